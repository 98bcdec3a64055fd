//! Conformance tests: execution logs.

use super::support::{event, execution, is_not_found, t0, S};
use crate::model::LogEvent;
use crate::store::prelude::*;
use crate::store::LogPage;

fn log_texts() -> Vec<String> {
    vec![
        "plain ascii".into(),
        "héllo wörld ✓ 日本語 🚀 עברית".into(),
        "tab\there, cr\rand a\nnewline inside".into(),
        "quote \" backslash \\ and {\"json\": [1, 2]}".into(),
        String::new(),
        "nul \u{0} and bell \u{7} and U+FFFD \u{FFFD}".into(),
        "'; DROP TABLE log_chunks; --".into(),
        "x".repeat(100_000),
        "100% of _under_scores_".into(),
        "trailing spaces   ".into(),
        "\u{200b}zero width\u{feff}".into(),
        "∑ λ → ∞".into(),
        "last".into(),
        "one more".into(),
        "and the end".into(),
    ]
}

/// Logs: appends, reads from any offset, lengths and tails, text kept byte for
/// byte.
pub async fn logs(s: S) {
    let id = s
        .create_execution(&execution("ops", None, "alice", t0()))
        .await
        .unwrap();
    let other = s
        .create_execution(&execution("ops", None, "bob", t0()))
        .await
        .unwrap();
    let mut all: Vec<LogEvent> = log_texts()
        .iter()
        .enumerate()
        .map(|(i, t)| event(i, t))
        .collect();
    // output that is not UTF-8 keeps its bytes
    (all[12].text, all[12].raw) = crate::model::decode_line(b"latin1 caf\xe9 \xff\x00".to_vec());
    assert!(all[12].raw.is_some());
    assert_eq!(s.read_log(id, 0, 10).await.unwrap().events, vec![]);
    s.append_log(id, &[]).await.unwrap();
    assert_eq!(s.log_length(id).await.unwrap(), 0);
    for n in [0usize, 1, 100, usize::MAX] {
        assert_eq!(
            s.read_log_tail(id, n).await.unwrap(),
            LogPage::default(),
            "tail {n} of an empty log"
        );
    }
    // Chunks of 3, 1, 5, 2 and 4 events, interleaved with another log.
    let mut at = 0;
    for n in [3, 1, 5, 2, 4] {
        s.append_log(id, &all[at..at + n]).await.unwrap();
        s.append_log(other, &[event(at, "other")]).await.unwrap();
        at += n;
        assert_eq!(s.log_length(id).await.unwrap(), at as u64);
    }
    assert_eq!(s.log_length(other).await.unwrap(), 5);
    assert_eq!(at, all.len());
    for offset in 0..=all.len() as u64 + 2 {
        for limit in [0usize, 1, 2, 3, 4, 7, 100, usize::MAX] {
            let page = s.read_log(id, offset, limit).await.unwrap();
            let start = (offset as usize).min(all.len());
            let want: Vec<LogEvent> = all[start..].iter().take(limit).cloned().collect();
            assert_eq!(
                page.next_offset,
                (start + want.len()) as u64,
                "{offset} {limit}"
            );
            assert_eq!(page.events, want, "offset {offset} limit {limit}");
        }
    }
    // The last n events, with the log's end as the next offset.
    for n in 0..=all.len() + 2 {
        let page = s.read_log_tail(id, n).await.unwrap();
        let want = &all[all.len().saturating_sub(n)..];
        assert_eq!(page.events, want, "tail {n}");
        assert_eq!(page.next_offset, all.len() as u64, "tail {n}");
    }
    let page = s.read_log_tail(id, usize::MAX).await.unwrap();
    assert_eq!(
        (page.events, page.next_offset),
        (all.clone(), all.len() as u64)
    );
    // Following a log page by page.
    let mut read = Vec::new();
    let mut offset = 0;
    loop {
        let page = s.read_log(id, offset, 4).await.unwrap();
        if page.events.is_empty() {
            break;
        }
        offset = page.next_offset;
        read.extend(page.events);
    }
    assert_eq!(read, all);
    assert_eq!(s.read_log(other, 0, 100).await.unwrap().events.len(), 5);
    assert!(is_not_found(s.append_log(999_999, &[event(0, "x")]).await));
    assert!(is_not_found(s.append_log(999_999, &[]).await));
    assert!(is_not_found(s.read_log(999_999, 0, 1).await));
    assert!(is_not_found(s.log_length(999_999).await));
    assert!(is_not_found(s.read_log_tail(999_999, 0).await));
    assert!(is_not_found(s.read_log_tail(999_999, 10).await));
    assert!(is_not_found(s.read_log_tail(u64::MAX, 10).await));
    assert!(is_not_found(s.append_log(u64::MAX, &[event(0, "x")]).await));
}

/// Appends from many tasks at once: none lost, each batch kept whole and in
/// order.
pub async fn concurrent_appends(s: S) {
    const TASKS: usize = 6;
    const CHUNKS: usize = 15;
    let mut ids = Vec::new();
    for i in 0..TASKS {
        ids.push(
            s.create_execution(&execution("ops", None, &format!("u{i}"), t0()))
                .await
                .unwrap(),
        );
    }
    let shared = s
        .create_execution(&execution("ops", None, "shared", t0()))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for (t, id) in ids.iter().copied().enumerate() {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            for c in 0..CHUNKS {
                let events: Vec<LogEvent> = (0..3)
                    .map(|k| event(c * 3 + k, &format!("task {t} chunk {c} line {k} ✓")))
                    .collect();
                s.append_log(id, &events).await.unwrap();
                // Also append to the shared log, from every task.
                s.append_log(shared, &[event(c, &format!("{t}:{c}"))])
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    for (t, id) in ids.iter().copied().enumerate() {
        let page = s.read_log(id, 0, usize::MAX).await.unwrap();
        let texts: Vec<String> = page.events.into_iter().map(|e| e.text).collect();
        let want: Vec<String> = (0..CHUNKS)
            .flat_map(|c| (0..3).map(move |k| format!("task {t} chunk {c} line {k} ✓")))
            .collect();
        assert_eq!(texts, want);
        assert_eq!(page.next_offset, (CHUNKS * 3) as u64);
    }
    let page = s.read_log(shared, 0, usize::MAX).await.unwrap();
    assert_eq!(page.events.len(), TASKS * CHUNKS);
    for t in 0..TASKS {
        let mine: Vec<String> = page
            .events
            .iter()
            .map(|e| e.text.clone())
            .filter(|x| x.starts_with(&format!("{t}:")))
            .collect();
        let want: Vec<String> = (0..CHUNKS).map(|c| format!("{t}:{c}")).collect();
        assert_eq!(mine, want, "each task's events in its order");
    }
}
