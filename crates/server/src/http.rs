//! HTTP in and out: bounded request bodies, JSON decoding into the API's
//! types, replies, and errors that are always an [`ErrorReply`] saying what
//! to do (internals go to stderr, never to the client).

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
#[cfg(doc)]
use twofill_team_api::MAX_BODY_BYTES;
use twofill_team_api::{ErrorBody, ErrorCode, ErrorReply, http_status};

pub type Reply = Response<Full<Bytes>>;

/// A request that ends in an error reply.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Close the connection after replying (the rest of the request was
    /// not read, so the stream cannot carry another one).
    pub close: bool,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::from_body(twofill_answer::error(code, message))
    }

    pub fn from_body(body: ErrorBody) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(http_status(body.code))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
            close: false,
        }
    }

    /// The database is down or failing: no code was issued.
    pub fn storage_unavailable() -> ApiError {
        ApiError::new(
            ErrorCode::VaultUnavailable,
            "the team server cannot reach its database right now, so no code was issued; \
             try again in a minute, and tell your twofill admin if it goes on",
        )
    }

    /// An authorization row in the database was edited past the vault:
    /// nothing was issued. The row is named in the server's log only (a
    /// device is not told the vault's tables, groups or token ids).
    pub fn tampered() -> ApiError {
        ApiError::new(
            ErrorCode::VaultTampered,
            "the team server's authorization data was changed outside twofill, so nothing was issued; \
             tell your twofill admin (the server's log names the row: restore it from a backup, \
             then run `twofill-server audit verify`)",
        )
    }

    /// Something broke inside the server; the details are in its log.
    pub fn internal() -> ApiError {
        ApiError::new(
            ErrorCode::Internal,
            "the team server hit an internal error answering this request; \
             try again, and tell your twofill admin if it goes on (the server's log has the details)",
        )
    }

    pub fn too_large(max: usize) -> ApiError {
        ApiError {
            close: true,
            ..ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the request body is larger than the server's limit of {max} bytes here; \
                     send a smaller request"
                ),
            )
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    pub fn is_storage_failure(&self) -> bool {
        self.body.code == ErrorCode::VaultUnavailable
    }

    pub fn is_tampered(&self) -> bool {
        self.body.code == ErrorCode::VaultTampered
    }

    pub fn into_reply(self) -> Reply {
        let retry_after = self.body.retry_after_ms;
        let mut reply = json(self.status, &ErrorReply { error: self.body });
        if let Some(ms) = retry_after {
            let secs = ms.div_ceil(1000).max(1);
            reply
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.close {
            reply
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        reply
    }
}

/// A JSON reply; never cached (codes and seeds must not linger in caches).
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Reply {
    let body = serde_json::to_vec(value).expect("API replies always serialise");
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

pub fn ok<T: Serialize>(value: &T) -> Reply {
    json(StatusCode::OK, value)
}

/// A PEM document (the CA certificate).
pub fn pem(text: &str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(text.to_owned())));
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    reply
}

/// The request's body, refused with 413 as soon as it is known to exceed
/// `max` ([`MAX_BODY_BYTES`] but for a push; from `Content-Length`, or
/// while reading a chunked one), and with 408 when it has not all arrived
/// within `limit`.
pub async fn read_body(
    request: Request<Incoming>,
    limit: Duration,
    max: usize,
) -> Result<Bytes, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(ApiError::too_large(max));
    }
    let collecting = Limited::new(request.into_body(), max).collect();
    let Ok(collected) = tokio::time::timeout(limit, collecting).await else {
        return Err(ApiError {
            close: true,
            ..ApiError::new(
                ErrorCode::BadRequest,
                format!(
                    "the request body did not arrive within the server's limit of {} ms; \
                     send the whole request at once, and try again",
                    limit.as_millis()
                ),
            )
            .with_status(StatusCode::REQUEST_TIMEOUT)
        });
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(max)),
        Err(_) => Err(ApiError {
            close: true,
            ..ApiError::new(
                ErrorCode::BadRequest,
                "the request body ended early or was malformed; send the whole request again",
            )
        }),
    }
}

/// Decodes a request body into one of the API's request types.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // An empty body is an empty object: requests whose fields are all
    // optional may omit it.
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::new(
                ErrorCode::BadRequest,
                format!(
                    "the request is not one this server accepts ({e}); \
                     check that twofill-host and the server are the same version"
                ),
            ),
            _ => ApiError::new(
                ErrorCode::BadJson,
                format!("the request body is not valid JSON ({e}); send a JSON object"),
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use twofill_team_api::CodeRequest;

    #[test]
    fn bodies_decode_strictly() {
        let ok: CodeRequest =
            decode(br#"{"origin":"https://a.example","browser":"chromium"}"#).unwrap();
        assert_eq!(ok.client.browser.as_deref(), Some("chromium"));
        let _: CodeRequest = decode(b"").unwrap();
        for (bad, code) in [
            (&br#"{"origin":"#[..], ErrorCode::BadJson),
            (b"\xff\xfe", ErrorCode::BadJson),
            (br#"{"origin":1}"#, ErrorCode::BadRequest),
            (br#"{"surprise":true}"#, ErrorCode::BadRequest),
            (
                br#"{"origin":"https://a.example","origin":"https://b.example"}"#,
                ErrorCode::BadRequest,
            ),
        ] {
            let e = decode::<CodeRequest>(bad).unwrap_err();
            assert_eq!(e.body.code, code, "{}", String::from_utf8_lossy(bad));
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
        }
    }
}
