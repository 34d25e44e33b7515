//! The portal's cookies. All are `__Host-` (Secure, Path=/, no Domain: only this exact host
//! over HTTPS — browsers also accept Secure cookies from http://localhost), HttpOnly, and
//! SameSite=Lax (a link from an e-mail still arrives signed in; cross-site posts do not carry
//! them, and every post also needs its CSRF token).

use axum::http::{HeaderMap, HeaderValue, header};

/// The session: `pxs_…`, ends with the browser unless it expires first.
pub const SESSION: &str = "__Host-printyx-session";
/// This browser signed in as a user before: `pxd_…`, kept for a year.
pub const DEVICE: &str = "__Host-printyx-device";
/// The CSRF token of forms shown before sign-in (double submit: cookie and form field).
pub const PRE_CSRF: &str = "__Host-printyx-csrf";
/// The dealer last signed in with, to fill in the sign-in form (not secret).
pub const DEALER: &str = "__Host-printyx-dealer";

/// The value of cookie `name`, if the request carries exactly one of that name (two are a
/// sign of cookie tossing from a sibling domain: ignored).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k == name {
                if found.is_some() {
                    return None;
                }
                found = Some(v);
            }
        }
    }
    found.filter(|v| !v.is_empty() && v.len() <= 200)
}

/// A `Set-Cookie` value; `max_age_s: None` makes a session cookie.
pub fn set(name: &str, value: &str, max_age_s: Option<i64>) -> HeaderValue {
    let age = max_age_s.map_or(String::new(), |s| format!("; Max-Age={s}"));
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(name: &str) -> HeaderValue {
    set(name, "", Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_host_only_secure_and_http_only() {
        let v = set(SESSION, "pxs_1_ab", None);
        let text = v.to_str().unwrap();
        assert!(text.starts_with(
            "__Host-printyx-session=pxs_1_ab; Path=/; Secure; HttpOnly; SameSite=Lax"
        ));
        assert!(!text.contains("Domain"));
        assert!(clear(SESSION).to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn a_doubled_cookie_is_not_believed() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-printyx-session=x"),
        );
        assert_eq!(get(&h, SESSION), Some("x"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("__Host-printyx-session=y"),
        );
        assert_eq!(get(&h, SESSION), None);
    }
}
