//! The device authorization grant (RFC 8628): the device asks for a user code, a person approves it on the
//! provider's pages (enter the code, confirm, log in), the device polls the token endpoint.

use serde_json::Value;

use crate::Provider;
use crate::flows::{Error, Tokens, refused, submit_login};
use crate::http::{self, Agent, Page};

/// The grant type the device polls with.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

const MAX_STEPS: usize = 20;

/// The device authorization endpoint's answer.
#[derive(Clone, Debug)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub interval: u64,
    pub expires_in: u64,
}

impl Provider {
    /// Starts a device authorization for the public client.
    pub fn start_device(&self, scope: &str) -> DeviceAuthorization {
        self.start_device_with(self.client_id(), scope)
    }

    /// Starts a device authorization for this client (its secret sent if it has one).
    pub fn start_device_with(&self, client_id: &str, scope: &str) -> DeviceAuthorization {
        let url = format!("{}/device/auth", self.issuer());
        let mut fields = vec![("client_id", client_id), ("scope", scope)];
        if let Some(secret) = self.config().secret_of(client_id) {
            fields.push(("client_secret", secret));
        }
        let page = Agent::new().post_form(&url, &fields).unwrap();
        assert_eq!(page.status, 200, "device authorization: {}", page.body);
        let json: Value = serde_json::from_str(&page.body).unwrap();
        let text = |k: &str| json[k].as_str().unwrap_or_default().to_owned();
        DeviceAuthorization {
            device_code: text("device_code"),
            user_code: text("user_code"),
            verification_uri: text("verification_uri"),
            verification_uri_complete: text("verification_uri_complete"),
            interval: json["interval"].as_u64().unwrap_or(5),
            expires_in: json["expires_in"].as_u64().unwrap_or(0),
        }
    }

    /// Approves a user code as a person would at `verification_uri`: enter the code, confirm, log in.
    pub fn approve_device(
        &self,
        user_code: &str,
        account: &str,
        password: &str,
    ) -> Result<(), Error> {
        let agent = Agent::new();
        let mut page = agent
            .get(&format!("{}/device", self.issuer()))
            .map_err(Error::Unexpected)?;
        for _ in 0..MAX_STEPS {
            if let Some(location) = page.location.clone() {
                page = agent.get(&location).map_err(Error::Unexpected)?;
            } else if page.body.contains("op.deviceInputForm") {
                page = post_form(
                    &agent,
                    &page,
                    "op.deviceInputForm",
                    &[("user_code", user_code)],
                )?;
            } else if page.body.contains("op.deviceConfirmForm") {
                page = post_form(&agent, &page, "op.deviceConfirmForm", &[])?;
            } else if page.body.contains("name=\"login\"") {
                page = submit_login(&agent, &page, account, password)?;
            } else if page.status == 200 && page.body.contains("<title>Signed in</title>") {
                return Ok(());
            } else {
                return Err(Error::Unexpected(format!(
                    "unexpected page in the device flow: {} {}",
                    page.status, page.body
                )));
            }
        }
        Err(Error::Unexpected(format!(
            "the device approval did not finish in {MAX_STEPS} steps"
        )))
    }

    /// One poll of the token endpoint; `authorization_pending` (as [`Error::Refused`]) until approved.
    pub fn poll_device(&self, device_code: &str) -> Result<Tokens, Error> {
        self.poll_device_with(self.client_id(), device_code)
    }

    pub fn poll_device_with(&self, client_id: &str, device_code: &str) -> Result<Tokens, Error> {
        self.token_request(
            client_id,
            &[
                ("grant_type", DEVICE_CODE_GRANT),
                ("device_code", device_code),
            ],
        )
    }
}

/// Posts the form with this id: its hidden fields plus `extra`.
fn post_form(agent: &Agent, page: &Page, id: &str, extra: &[(&str, &str)]) -> Result<Page, Error> {
    let form = http::form(&page.body, Some(id))
        .ok_or_else(|| Error::Unexpected(format!("no form {id} in {}", page.body)))?;
    let mut fields: Vec<(&str, &str)> = form
        .hidden
        .iter()
        .filter(|(name, _)| !extra.iter().any(|(e, _)| e == name))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    fields.extend_from_slice(extra);
    let answer = agent
        .post_form(&http::absolute(&page.url, &form.action), &fields)
        .map_err(Error::Unexpected)?;
    if answer.status >= 400 {
        let json = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        if json.is_object() {
            return Err(refused(answer.status, &json));
        }
    }
    Ok(answer)
}
