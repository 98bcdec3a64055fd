//! Job descriptions rendered as markdown, as Rundeck's job page renders
//! them, with nothing in them able to become script or fetch anything: raw
//! HTML is shown as text, a link whose target is not `http:`, `https:`,
//! `mailto:` or relative keeps its text and loses its target, and an image
//! is its alt text.

use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

/// `src` as HTML that is safe to put in a page as it is.
pub(super) fn render(src: &str) -> String {
    let mut dropped: Vec<bool> = Vec::new();
    let events = Parser::new_ext(src, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH)
        .filter_map(|e| match e {
            Event::Html(t) | Event::InlineHtml(t) => Some(Event::Text(t)),
            Event::Start(Tag::Link { ref dest_url, .. }) => {
                let keep = safe_target(dest_url);
                dropped.push(!keep);
                keep.then_some(e)
            }
            Event::End(TagEnd::Link) => (!dropped.pop().unwrap_or(false)).then_some(e),
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
            other => Some(other),
        });
    let mut out = String::with_capacity(src.len() + src.len() / 2);
    html::push_html(&mut out, events);
    out
}

/// Whether a link target is relative or uses a scheme that cannot run
/// anything. Browsers drop tabs and newlines inside a URL, so a scheme is
/// everything before the first `:` that comes before any `/`, `?` or `#`,
/// and only the listed ones pass.
fn safe_target(url: &str) -> bool {
    let url = url.trim_start_matches(|c: char| c <= ' ');
    let end = url.find(['/', '?', '#']).unwrap_or(url.len());
    match url[..end].find(':') {
        None => true,
        Some(i) => {
            let scheme = url[..i].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_is_rendered() {
        let out = render(
            "Deploys **web**.\n\n- one\n- two\n\n[docs](https://example.com/d) and [here](../jobs)",
        );
        assert!(out.contains("<strong>web</strong>"), "{out}");
        assert!(out.contains("<li>one</li>"), "{out}");
        assert!(
            out.contains(r#"<a href="https://example.com/d">docs</a>"#),
            "{out}"
        );
        assert!(out.contains(r#"<a href="../jobs">here</a>"#), "{out}");
    }

    #[test]
    fn nothing_in_a_description_becomes_script() {
        for src in [
            "<script>alert(1)</script>",
            "text <img src=x onerror=alert(1)> more",
            "<div onclick=alert(1)>x</div>",
            "[click](javascript:alert(1))",
            "[click](JavaScript:alert(1))",
            "[click]( \tjava\nscript:alert(1))",
            "[click](data:text/html,<script>alert(1)</script>)",
            "[click](vbscript:msgbox)",
            "![alt text](https://evil.example/track.png)",
            "<https://ok.example/> <javascript:alert(1)>",
        ] {
            let out = render(src);
            let lower = out.to_ascii_lowercase();
            for bad in [
                "<script",
                "<img",
                "<div",
                "javascript:",
                "data:",
                "vbscript:",
            ] {
                if bad.ends_with(':') {
                    assert!(
                        !lower.contains(&format!("href=\"{bad}")),
                        "{src:?} gave {out}"
                    );
                } else {
                    assert!(!lower.contains(bad), "{src:?} gave {out}");
                }
            }
        }
        assert!(render("![alt text](https://evil.example/t.png)").contains("alt text"));
        assert!(render("[click](javascript:alert(1))").contains("click"));
        assert!(render("<https://ok.example/>").contains(r#"href="https://ok.example/""#));
    }
}
