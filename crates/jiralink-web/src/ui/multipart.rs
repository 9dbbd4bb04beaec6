//! `multipart/form-data` bodies (RFC 7578), read whole: the import pages' file upload. The
//! body is bounded before it is read ([`MAX_UPLOAD_BODY_BYTES`]), so parsing it in memory is
//! as safe as the URL-encoded forms are.

/// The largest file an import page takes.
pub(crate) const MAX_UPLOAD_BYTES: usize = 10 << 20;

/// The largest multipart body read: the file and the form's few other fields.
pub(crate) const MAX_UPLOAD_BODY_BYTES: usize = MAX_UPLOAD_BYTES + (64 << 10);

/// One part of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) name: String,
    /// Set for a file input (possibly empty when no file was chosen).
    pub(crate) file_name: Option<String>,
    pub(crate) data: Vec<u8>,
}

impl Part {
    /// The part as text (fields other than files).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Whether a `Content-Type` says `multipart/form-data`.
pub(crate) fn is_multipart(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The boundary a `multipart/form-data` content type names.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    if !is_multipart(content_type) {
        return None;
    }
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty() && value.len() <= 70).then(|| value.to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A parameter of a `Content-Disposition` header: `name="value"` (browsers write quotes in
/// values as `%22`).
fn disposition_param(header: &str, param: &str) -> Option<String> {
    let mut rest = header;
    while let Some(at) = rest.find(';') {
        rest = &rest[at + 1..];
        let trimmed = rest.trim_start();
        let Some((key, after)) = trimmed.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case(param) {
            continue;
        }
        if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            return Some(quoted[..end].replace("%22", "\""));
        }
        let end = after.find(';').unwrap_or(after.len());
        return Some(after[..end].trim().to_owned());
    }
    None
}

/// The parts of `body`, in order.
///
/// # Errors
/// A sentence saying why the body is not a multipart form.
pub(crate) fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let bad = || "the upload could not be read (it is not a complete multipart form)".to_owned();
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let next_delimiter = format!("\r\n--{boundary}");
    let next_delimiter = next_delimiter.as_bytes();
    let mut at = find(body, delimiter, 0).ok_or_else(bad)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err(bad());
        }
        at += 2;
        let head_end = find(body, b"\r\n\r\n", at).ok_or_else(bad)?;
        let head = String::from_utf8_lossy(&body[at..head_end]).into_owned();
        let content_start = head_end + 4;
        let content_end = find(body, next_delimiter, content_start).ok_or_else(bad)?;
        let disposition = head
            .split("\r\n")
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then(|| value.trim().to_owned())
            })
            .ok_or_else(bad)?;
        let name = disposition_param(&disposition, "name").ok_or_else(bad)?;
        parts.push(Part {
            name,
            file_name: disposition_param(&disposition, "filename"),
            data: body[content_start..content_end].to_vec(),
        });
        at = content_end + next_delimiter.len();
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn a_browsers_form_is_read() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\ntok\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"file\"; \
                    filename=\"a %22b%22.csv\"\r\nContent-Type: text/csv\r\n\r\nid,title\r\n1,x\r\n\
                    \r\n--XyZ\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\n\r\n--XyZ--\r\n";
        let parts = parse(body.as_bytes(), "XyZ").unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].name, "_csrf");
        assert_eq!(parts[0].text(), "tok");
        assert_eq!(parts[0].file_name, None);
        assert_eq!(parts[1].file_name.as_deref(), Some("a \"b\".csv"));
        assert_eq!(parts[1].data, b"id,title\r\n1,x\r\n");
        assert_eq!(parts[2].text(), "");
    }

    #[test]
    fn boundaries_and_broken_bodies() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----WebKitFormBoundaryAb").as_deref(),
            Some("----WebKitFormBoundaryAb")
        );
        assert_eq!(
            boundary("Multipart/Form-Data; boundary=\"q\"").as_deref(),
            Some("q")
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert!(
            parse(
                b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nno end",
                "b"
            )
            .is_err()
        );
        assert!(parse(b"nothing", "b").is_err());
        assert_eq!(parse(b"--b--\r\n", "b").unwrap(), Vec::new());
    }
}
