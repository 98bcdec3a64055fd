//! Form bodies as Rundeck's upload routes take them: `multipart/form-data`
//! (a file part such as `xmlBatch` or `scriptFile` plus plain fields) and
//! `application/x-www-form-urlencoded`.
//!
//! The handler has already read the body, within the server's body limit,
//! so parsing here works on bytes in memory and cannot grow past it.

use crate::error::{ApiError, Code};
use axum::body::Bytes;
use axum::http::header::{HeaderMap, CONTENT_TYPE};
use std::convert::Infallible;

/// One field of a form: a plain value or an uploaded file.
#[derive(Debug)]
pub(crate) struct Part {
    pub name: String,
    /// The `filename` of its `Content-Disposition`, for file parts.
    pub file_name: Option<String>,
    /// The part's own `Content-Type`, lower case, without parameters.
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// A parsed form body.
#[derive(Debug)]
pub(crate) struct Form {
    parts: Vec<Part>,
}

/// The request's `Content-Type` without parameters, lower case.
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// 400 with Rundeck's code for a missing parameter.
pub(crate) fn required(name: &str) -> ApiError {
    ApiError::of(
        Code::ParameterRequired,
        format!("parameter \"{name}\" is required"),
    )
}

impl Form {
    /// The form in `body` if the request sends one (`None` for any other
    /// content type); a malformed form is a 400 saying what is wrong.
    pub(crate) async fn parse(headers: &HeaderMap, body: Bytes) -> Result<Option<Form>, ApiError> {
        match media_type(headers).as_str() {
            "multipart/form-data" => Self::multipart(headers, body).await.map(Some),
            "application/x-www-form-urlencoded" => Self::urlencoded(&body).map(Some),
            _ => Ok(None),
        }
    }

    async fn multipart(headers: &HeaderMap, body: Bytes) -> Result<Form, ApiError> {
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .unwrap_or("");
        let boundary = multer::parse_boundary(content_type).map_err(|e| {
            ApiError::invalid(format!(
                "multipart body: Content-Type has no boundary ({e})"
            ))
        })?;
        let stream = futures::stream::once(async move { Ok::<Bytes, Infallible>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut parts = Vec::new();
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err(ApiError::invalid(format!("multipart body: {e}"))),
            };
            let name = field.name().unwrap_or("").to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let content_type = field
                .content_type()
                .map(|m| m.essence_str().to_ascii_lowercase());
            let data = field
                .bytes()
                .await
                .map_err(|e| ApiError::invalid(format!("multipart body: part {name:?}: {e}")))?;
            // Rundeck ignores nameless parts (and then misses the one it needs)
            if !name.is_empty() {
                parts.push(Part {
                    name,
                    file_name,
                    content_type,
                    data,
                });
            }
        }
        Ok(Form { parts })
    }

    fn urlencoded(body: &[u8]) -> Result<Form, ApiError> {
        // `curl -d '{...}'` sends JSON labelled as a form
        if matches!(body.trim_ascii_start().first(), Some(b'{' | b'[')) {
            return Err(ApiError::invalid(
                "form body: this looks like JSON; send it with Content-Type: application/json",
            ));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| ApiError::invalid(format!("form body: {e}")))?;
        Ok(Form {
            parts: pairs
                .into_iter()
                .map(|(name, value)| Part {
                    name,
                    file_name: None,
                    content_type: None,
                    data: Bytes::from(value),
                })
                .collect(),
        })
    }

    /// The first part named `name`.
    pub(crate) fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// The bytes of the first file part (one with a `filename`).
    pub(crate) fn first_file(&self) -> Option<Bytes> {
        self.parts
            .iter()
            .find(|p| p.file_name.is_some())
            .map(|p| p.data.clone())
    }

    /// The plain fields (not files) as name/value pairs, for the same
    /// lookups as query parameters.
    pub(crate) fn fields(&self) -> Vec<(String, String)> {
        self.parts
            .iter()
            .filter(|p| p.file_name.is_none())
            .filter_map(|p| {
                std::str::from_utf8(&p.data)
                    .ok()
                    .map(|v| (p.name.clone(), v.to_owned()))
            })
            .collect()
    }
}

impl Part {
    /// The part as text; 400 naming it when it is not UTF-8.
    pub(crate) fn text(&self) -> Result<&str, ApiError> {
        std::str::from_utf8(&self.data)
            .map_err(|e| ApiError::invalid(format!("{}: not UTF-8 text ({e})", self.name)))
    }
}

/// A `multipart/form-data` body of `(name, file name, content)` parts, and
/// its `Content-Type`, for tests.
#[cfg(test)]
pub(crate) fn test_multipart(parts: &[(&str, Option<&str>, &str)]) -> (String, String) {
    let boundary = "----foredeck-test-boundary";
    let mut body = String::new();
    for (name, file, content) in parts {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
        ));
        if let Some(f) = file {
            body.push_str(&format!(
                "; filename=\"{f}\"\r\nContent-Type: application/octet-stream"
            ));
        }
        body.push_str(&format!("\r\n\r\n{content}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, ct.parse().unwrap());
        h
    }

    #[tokio::test]
    async fn multipart_parts_and_fields() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.yaml\"\r\nContent-Type: Application/YAML\r\n\r\n- a: 1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nnameless\r\n--XyZ--\r\n";
        let form = Form::parse(
            &headers("multipart/form-data; boundary=XyZ"),
            Bytes::from(body),
        )
        .await
        .unwrap()
        .unwrap();
        let f = form.part("f").unwrap();
        assert_eq!(f.text().unwrap(), "- a: 1");
        assert_eq!(f.file_name.as_deref(), Some("a.yaml"));
        assert_eq!(f.content_type.as_deref(), Some("application/yaml"));
        assert_eq!(form.fields(), vec![("k".to_owned(), "v".to_owned())]);
        assert!(form.part("").is_none());
    }

    #[tokio::test]
    async fn bad_forms_are_named_and_other_types_are_not_forms() {
        for (ct, body, needle) in [
            ("multipart/form-data", "x", "boundary"),
            (
                "multipart/form-data; boundary=B",
                "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
                "multipart body",
            ),
        ] {
            let e = Form::parse(&headers(ct), Bytes::from(body))
                .await
                .unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
            assert!(e.message.contains(needle), "{ct}: {}", e.message);
        }
        assert!(Form::parse(&headers("application/json"), Bytes::from("{}"))
            .await
            .unwrap()
            .is_none());
        let form = Form::parse(
            &headers("application/x-www-form-urlencoded"),
            Bytes::from("xmlBatch=-+name%3A+x%0A&dupeOption=skip"),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            form.part("xmlBatch").unwrap().text().unwrap(),
            "- name: x\n"
        );
        assert_eq!(form.fields()[1], ("dupeOption".into(), "skip".into()));
    }
}
