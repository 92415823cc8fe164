//! A document's `ETag` names its current version (`"v3"`); writes send it back in
//! `If-Match`, so a write based on an older version is refused (412) instead of silently
//! overwriting someone else's edit.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::error::ApiError;

pub fn of(version: i32) -> String {
    format!("\"v{version}\"")
}

pub fn header_value(version: i32) -> HeaderValue {
    HeaderValue::from_str(&of(version)).expect("an ETag is ASCII")
}

/// The versions `If-Match` names: 428 without the header, 400 when it is not a list of
/// this API's ETags. Weak tags never match (If-Match compares strongly, RFC 9110 13.1.1).
pub fn if_match(headers: &HeaderMap) -> Result<Vec<i32>, ApiError> {
    let raw = headers
        .get(header::IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?;
    let malformed = || {
        ApiError::BadRequest(
            "If-Match must carry the document's ETag, such as \"v3\", as GET returned it".into(),
        )
    };
    let raw = raw.to_str().map_err(|_| malformed())?;
    raw.split(',')
        .map(|tag| {
            tag.trim()
                .strip_prefix("\"v")
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|n| n.parse::<i32>().ok())
                .filter(|n| *n >= 1)
                .ok_or_else(malformed)
        })
        .collect()
}

/// The one version a write is based on: the current one if `If-Match` names it, else 412.
pub fn expected(named: &[i32], current: Option<i32>) -> Result<i32, ApiError> {
    match current {
        Some(c) if named.contains(&c) => Ok(c),
        _ => Err(ApiError::PreconditionFailed {
            current_etag: current.map(of).unwrap_or_default(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn if_match_parses_lists_and_refuses_anything_else() {
        assert_eq!(if_match(&with("\"v3\"")).unwrap(), vec![3]);
        assert_eq!(if_match(&with("\"v2\", \"v3\"")).unwrap(), vec![2, 3]);
        for bad in ["v3", "W/\"v3\"", "*", "\"3\"", "\"v0\"", "\"vx\"", ""] {
            assert!(
                matches!(if_match(&with(bad)), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            if_match(&HeaderMap::new()),
            Err(ApiError::PreconditionRequired)
        ));
        assert_eq!(expected(&[3], Some(3)).unwrap(), 3);
        assert!(matches!(
            expected(&[2], Some(3)),
            Err(ApiError::PreconditionFailed { current_etag }) if current_etag == "\"v3\""
        ));
    }
}
