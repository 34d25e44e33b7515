//! A browser as the portal's pages meet it: it keeps cookies (honouring `Max-Age=0`), does not
//! follow redirects (tests look at them), and finds the CSRF token and links in pages. Cookie
//! attributes are kept so tests can check them.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        self.input_value("csrf")
            .unwrap_or_else(|| panic!("no csrf field in:\n{}", self.body))
    }

    /// The `value` of the first input named `name`.
    pub fn input_value(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\""))?;
        let tag_start = self.body[..at].rfind('<')?;
        let tag_end = at + self.body[at..].find('>')?;
        let tag = &self.body[tag_start..tag_end];
        let v = tag.split("value=\"").nth(1)?;
        Some(unescape(&v[..v.find('"')?]))
    }

    /// The text of the element with this id.
    pub fn element_text(&self, id: &str) -> Option<String> {
        let at = self.body.find(&format!("id=\"{id}\""))?;
        let open_end = at + self.body[at..].find('>')? + 1;
        let close = open_end + self.body[open_end..].find('<')?;
        Some(unescape(&self.body[open_end..close]))
    }

    pub fn contains(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    /// The `Set-Cookie` headers of this response.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The `Set-Cookie` header that sets cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

pub const SESSION: &str = "__Host-printyx-session";
pub const DEVICE: &str = "__Host-printyx-device";
pub const PRE_CSRF: &str = "__Host-printyx-csrf";

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser::speaking(base, "en-US,en;q=0.9")
    }

    /// A browser whose every request says which languages its user reads (`Accept-Language`).
    pub fn speaking(base: &str, accept_language: &str) -> Browser {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT_LANGUAGE,
            reqwest::header::HeaderValue::from_str(accept_language).unwrap(),
        );
        Browser {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for c in headers.get_all(reqwest::header::SET_COOKIE) {
            let text = c.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Page {
            status,
            location,
            headers,
            body: response.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let r = self
            .http
            .get(url)
            .header(reqwest::header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// Posts a form, fields encoded as a browser does.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.post_raw(path, body.into_bytes(), &[]).await
    }

    /// Posts exactly these bytes as a form, with extra headers.
    pub async fn post_raw(&mut self, path: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Page {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        self.finish(r).await
    }

    /// Posts a `multipart/form-data` body (a file upload form), its CSRF token in the URL as
    /// the upload forms carry it.
    pub async fn post_multipart(&mut self, path: &str, boundary: &str, body: Vec<u8>) -> Page {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// Signs in through the sign-in page; returns the answer to the form.
    pub async fn sign_in(&mut self, dealer: &str, email: &str, password: &str) -> Page {
        let form = self.get(&format!("/sign-in?dealer={dealer}")).await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.csrf();
        self.post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("dealer", dealer),
                ("email", email),
                ("password", password),
                ("next", "/"),
            ],
        )
        .await
    }

    /// The CSRF token of the signed-in session (read from the profile page).
    pub async fn session_csrf(&mut self) -> String {
        let p = self.get("/profile").await;
        assert_eq!(p.status, 200, "not signed in: {:?}", p.location);
        p.csrf()
    }
}

/// application/x-www-form-urlencoded encoding of one value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
