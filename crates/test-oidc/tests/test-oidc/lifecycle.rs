//! The provider process: one per `Provider`, gone when it drops.

use std::net::TcpStream;

use crate::provider;

#[test]
fn dropping_the_provider_stops_its_process() {
    let provider = provider();
    let address = provider.issuer().trim_start_matches("http://").to_owned();
    TcpStream::connect(&address).expect("the provider listens");
    let other = crate::provider();
    assert_ne!(
        other.issuer(),
        provider.issuer(),
        "each provider has its own port"
    );
    drop(provider);
    assert!(
        TcpStream::connect(&address).is_err(),
        "nothing listens on {address} after the drop"
    );
    // The other one is untouched.
    assert_eq!(other.discovery()["issuer"], other.issuer());
}
