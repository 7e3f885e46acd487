//! What went wrong with a request, in one line a person can act on: a missing
//! bucket, a denied request (bad or missing credentials), a missing object, or
//! the store's own words for anything else.

/// The kind of failure, for the caller to choose its error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    NoBucket,
    Denied,
    NoObject,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// One line, without the location (the caller names it).
    pub reason: String,
}

/// Error codes S3-compatible servers send when the credentials are refused.
const DENIED_CODES: [&str; 7] = [
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AllAccessDisabled",
];

const CREDENTIALS_HINT: &str =
    "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and the bucket's policy";

/// The text between `<Code>` and `</Code>` of an S3 error body.
fn server_code(text: &str) -> Option<&str> {
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    Some(&text[start..end])
}

/// The HTTP status in object_store's message ("status code: 404 Not Found").
fn status(text: &str) -> Option<u16> {
    let start = text.find("status code: ")? + "status code: ".len();
    text[start..].get(..3)?.parse().ok()
}

/// Everything the error says, on one line and not too long.
pub fn one_line(error: &dyn std::error::Error) -> String {
    let text = error.to_string();
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.len() > 400 {
        let mut cut = 400;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str(" …");
    }
    line
}

impl Failure {
    pub fn of(error: &object_store::Error) -> Failure {
        let text = error.to_string();
        let code = server_code(&text);
        let status = status(&text);
        let kind = match (error, code, status) {
            (_, Some("NoSuchBucket"), _) => FailureKind::NoBucket,
            (_, Some(code), _) if DENIED_CODES.contains(&code) => FailureKind::Denied,
            (object_store::Error::PermissionDenied { .. }, _, _)
            | (object_store::Error::Unauthenticated { .. }, _, _)
            | (_, _, Some(401 | 403)) => FailureKind::Denied,
            (object_store::Error::NotFound { .. }, _, _) | (_, Some("NoSuchKey"), _) => {
                FailureKind::NoObject
            }
            _ => FailureKind::Other,
        };
        let reason = match kind {
            FailureKind::NoBucket => "no such bucket (NoSuchBucket)".to_string(),
            FailureKind::Denied => format!(
                "access denied ({}): {CREDENTIALS_HINT}",
                code.map_or_else(
                    || status.map_or("refused".to_string(), |s| format!("HTTP {s}")),
                    str::to_string
                )
            ),
            FailureKind::NoObject => "no such object".to_string(),
            FailureKind::Other => one_line(error),
        };
        Failure { kind, reason }
    }

    pub fn into_io(self) -> std::io::Error {
        let kind = match self.kind {
            FailureKind::NoObject | FailureKind::NoBucket => std::io::ErrorKind::NotFound,
            FailureKind::Denied => std::io::ErrorKind::PermissionDenied,
            FailureKind::Other => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_from_the_message() {
        let body = "Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?>\n<Error><Code>InvalidAccessKeyId</Code><Message>x</Message></Error>";
        assert_eq!(server_code(body), Some("InvalidAccessKeyId"));
        assert_eq!(status(body), Some(403));
        assert_eq!(status("no status"), None);
    }
}
