/// How a token is named to people: "Issuer (account)", or the account alone.
pub fn token_label(issuer: Option<&str>, account: &str) -> String {
    match issuer {
        Some(issuer) => format!("{issuer} ({account})"),
        None => account.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn forms() {
        assert_eq!(super::token_label(Some("GitHub"), "me"), "GitHub (me)");
        assert_eq!(super::token_label(None, "me"), "me");
    }
}
