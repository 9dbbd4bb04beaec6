//! `multipart/form-data` bodies (RFC 7578) and Jira's XSRF check for uploads, shared by the
//! platform's `POST /issue/{k}/attachments` and JSM's `attachTemporaryFile`.

use axum::http::HeaderMap;

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Form field name.
    pub name: String,
    /// File name, for file parts.
    pub filename: Option<String>,
    /// The part's `Content-Type`.
    pub content_type: Option<String>,
    /// Content.
    pub data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// `key=value` parameters of a header value (`form-data; name="file"; filename="a;b.txt"`);
/// semicolons inside quotes belong to the value.
fn header_params(value: &str) -> Vec<(String, String)> {
    let mut current = String::new();
    let mut quoted = false;
    let mut pieces = Vec::new();
    for ch in value.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                current.push(ch);
            }
            ';' if !quoted => pieces.push(std::mem::take(&mut current)),
            _ => current.push(ch),
        }
    }
    pieces.push(current);
    pieces
        .into_iter()
        .filter_map(|piece| {
            let (k, v) = piece.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.trim().to_ascii_lowercase(), v.replace("\\\"", "\"")))
        })
        .collect()
}

/// Splits a `multipart/form-data` body; `None` when it is not one or is not well formed.
pub fn parse(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let (media, _) = content_type.split_once(';').unwrap_or((content_type, ""));
    if !media.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = header_params(content_type)
        .into_iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty())?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Some(parts);
        }
        if body.get(at..at + 2) == Some(b"\r\n") {
            at += 2;
        }
        let head_end = find(body, b"\r\n\r\n", at)?;
        let head = String::from_utf8_lossy(body.get(at..head_end)?).into_owned();
        let content_start = head_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&delimiter);
        let content_end = find(body, &closing, content_start)?;
        let mut name = String::new();
        let mut filename = None;
        let mut part_type = None;
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for (pk, pv) in header_params(v) {
                        match pk.as_str() {
                            "name" => name = pv,
                            "filename" => filename = Some(pv),
                            _ => {}
                        }
                    }
                }
                "content-type" => part_type = Some(v.trim().to_owned()),
                _ => {}
            }
        }
        parts.push(Part {
            name,
            filename,
            content_type: part_type,
            data: body.get(content_start..content_end)?.to_vec(),
        });
        at = content_end + closing.len();
    }
}

/// Whether an upload passes Jira's XSRF check (`X-Atlassian-Token: no-check`).
pub fn xsrf_passed(headers: &HeaderMap) -> bool {
    headers
        .get("x-atlassian-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("no-check") || v.eq_ignore_ascii_case("nocheck")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_split_into_parts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a;b.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.bin\"\r\n\r\n\x00\x01\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nx\r\n--XyZ--\r\n";
        let parts = parse("multipart/form-data; boundary=XyZ", body).expect("parts");
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].name, "file");
        assert_eq!(parts[0].filename.as_deref(), Some("a;b.txt"));
        assert_eq!(parts[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(parts[0].data, b"hello\r\nworld");
        assert_eq!(parts[1].content_type, None);
        assert_eq!(parts[1].data, vec![0, 1]);
        assert_eq!(parts[2].filename, None);
        assert_eq!(parts[2].data, b"x");
        let quoted = parse("Multipart/Form-Data; boundary=\"XyZ\"", body).expect("quoted");
        assert_eq!(quoted.len(), 3);
    }

    #[test]
    fn other_bodies_are_refused() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nx\r\n--XyZ--\r\n";
        assert!(parse("application/json", body).is_none());
        assert!(parse("multipart/form-data", body).is_none());
        assert!(parse("multipart/form-data; boundary=nope", body).is_none());
        assert!(parse("multipart/form-data; boundary=XyZ", b"--XyZ\r\nbroken").is_none());
    }

    #[test]
    fn the_xsrf_header_must_say_no_check() {
        let mut headers = HeaderMap::new();
        assert!(!xsrf_passed(&headers));
        headers.insert("X-Atlassian-Token", "nocheck".parse().expect("value"));
        assert!(xsrf_passed(&headers));
        headers.insert("X-Atlassian-Token", "check".parse().expect("value"));
        assert!(!xsrf_passed(&headers));
    }
}
