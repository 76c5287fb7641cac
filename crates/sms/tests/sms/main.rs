//! twofill-sms: provider signatures against published or independently
//! computed vectors, number normalisation, code extraction.

mod android_gateway;
mod extract;
mod hostile;
mod phone;
mod sms_forwarder;
mod support;
mod twilio;
mod vonage;
