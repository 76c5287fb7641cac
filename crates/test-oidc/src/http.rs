//! A browser's worth of HTTP for driving the provider's pages: one cookie jar, redirects seen one by one.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::Value;

/// One answer: status, `Location` (made absolute), body.
pub(crate) struct Page {
    /// The URL this page answered (relative links resolve against it).
    pub url: String,
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

pub(crate) struct Agent {
    agent: ureq::Agent,
    /// Every cookie goes to every path: the provider's cookie names do not repeat across paths.
    cookies: RefCell<BTreeMap<String, String>>,
}

impl Agent {
    pub fn new() -> Agent {
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            .build()
            .into();
        Agent {
            agent,
            cookies: RefCell::new(BTreeMap::new()),
        }
    }

    pub fn get(&self, url: &str) -> Result<Page, String> {
        let mut request = self.agent.get(url);
        if let Some(cookie) = self.cookie_header() {
            request = request.header("cookie", cookie);
        }
        self.page(url, request.call())
    }

    pub fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Result<Page, String> {
        let mut request = self.agent.post(url);
        if let Some(cookie) = self.cookie_header() {
            request = request.header("cookie", cookie);
        }
        self.page(url, request.send_form(fields.iter().copied()))
    }

    pub fn get_json(&self, url: &str) -> Result<Value, String> {
        let page = self.get(url)?;
        if page.status != 200 {
            return Err(format!("GET {url} answered {}: {}", page.status, page.body));
        }
        serde_json::from_str(&page.body).map_err(|e| format!("GET {url}: not JSON ({e})"))
    }

    /// For the test-control API: a JSON body (or none), the status and the body back.
    pub fn send_json(
        &self,
        method: &str,
        url: &str,
        body: Option<Value>,
    ) -> Result<(u16, String), String> {
        let answer = match (method, body) {
            ("GET", _) => self.agent.get(url).call(),
            ("PUT", body) => self
                .agent
                .put(url)
                .header("content-type", "application/json")
                .send(body.unwrap_or(Value::Null).to_string()),
            (_, Some(body)) => self
                .agent
                .post(url)
                .header("content-type", "application/json")
                .send(body.to_string()),
            (_, None) => self.agent.post(url).send_empty(),
        };
        let page = self.page(url, answer)?;
        Ok((page.status, page.body))
    }

    fn cookie_header(&self) -> Option<String> {
        let cookies = self.cookies.borrow();
        (!cookies.is_empty()).then(|| {
            cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn page(
        &self,
        url: &str,
        answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Page, String> {
        let mut response = answer.map_err(|e| format!("{url}: {e}"))?;
        for header in response.headers().get_all("set-cookie") {
            self.store_cookie(header.to_str().unwrap_or_default());
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(|l| absolute(url, l));
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{url}: reading the body: {e}"))?;
        Ok(Page {
            url: url.to_owned(),
            status: response.status().as_u16(),
            location,
            body,
        })
    }

    fn store_cookie(&self, header: &str) {
        let mut attributes = header.split(';');
        let Some((name, value)) = attributes.next().and_then(|kv| kv.trim().split_once('=')) else {
            return;
        };
        // The provider clears a cookie by expiring it.
        let cleared = value.is_empty()
            || attributes.any(|a| {
                let a = a.trim().to_ascii_lowercase();
                a.starts_with("expires=thu, 01 jan 1970") || a == "max-age=0"
            });
        let mut cookies = self.cookies.borrow_mut();
        if cleared {
            cookies.remove(name);
        } else {
            cookies.insert(name.to_owned(), value.to_owned());
        }
    }
}

/// `location` resolved against `base` (the provider redirects with absolute paths or full URLs).
pub(crate) fn absolute(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let origin_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    format!("{}{location}", &base[..origin_end])
}

/// `application/x-www-form-urlencoded` / query-string encoding of one value.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Decodes one query-string value.
pub(crate) fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query parameters of a URL.
pub(crate) fn query(url: &str) -> BTreeMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// An HTML form on a page the provider rendered: its action and its hidden inputs.
pub(crate) struct Form {
    pub action: String,
    pub hidden: Vec<(String, String)>,
}

/// The form with this id (or the first form), parsed just enough for the provider's own markup.
pub(crate) fn form(html: &str, id: Option<&str>) -> Option<Form> {
    let start = match id {
        Some(id) => html.find(&format!("id=\"{id}\""))?,
        None => html.find("<form")?,
    };
    let start = html[..=start].rfind("<form").unwrap_or(start);
    let end = html[start..]
        .find("</form>")
        .map_or(html.len(), |e| start + e);
    let markup = &html[start..end];
    let action = attribute(markup, "action")?;
    let hidden = markup
        .split("<input")
        .skip(1)
        .filter(|input| input.contains("type=\"hidden\""))
        .filter_map(|input| Some((attribute(input, "name")?, attribute(input, "value")?)))
        .collect();
    Some(Form { action, hidden })
}

fn attribute(markup: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = markup.find(&needle)? + needle.len();
    let end = markup[start..].find('"')? + start;
    Some(unescape_html(&markup[start..end]))
}

fn unescape_html(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}
