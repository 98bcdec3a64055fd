//! What handlers take from a request besides the state: who calls
//! ([`Caller`], [`ClientAddr`]), query and path parameters ([`Params`] and
//! the readers of one parameter), and bodies as Rundeck's clients send them
//! (form uploads in [`form`], optional JSON bodies).

mod accept;
mod body;
mod caller;
pub(crate) mod form;
mod params;

pub(crate) use accept::{json_only, json_only_from_v18, response_format};
pub(crate) use body::{ids_of, lenient, optional_json};
pub(crate) use caller::{client_addr, Caller, ClientAddr};
pub(crate) use form::{media_type, required, Form};
pub(crate) use params::{flag, number, param, path, Params};
