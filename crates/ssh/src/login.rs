//! Logging in on a handshaken connection with the [`Auth`] the credentials
//! resolver gave: a key, a password (and keyboard-interactive), or the keys of
//! an ssh-agent.

use crate::auth::Auth;
use crate::error::SshError;
use crate::pool::Client;
use russh::client;
use std::sync::Arc;

/// Logs in on a handshaken connection.
pub(crate) async fn authenticate(
    mut handle: client::Handle<Client>,
    user: &str,
    label: &str,
    auth: Auth,
) -> Result<client::Handle<Client>, SshError> {
    let method = auth.method();
    let result = match auth {
        Auth::Key { pem, passphrase } => {
            let text = String::from_utf8(pem).map_err(|_| SshError::KeyNotText {
                user: user.to_owned(),
            })?;
            let key =
                russh::keys::decode_secret_key(&text, passphrase.as_deref()).map_err(|e| {
                    SshError::KeyDecode {
                        user: user.to_owned(),
                        source: Box::new(e),
                    }
                })?;
            let hash = handle
                .best_supported_rsa_hash()
                .await
                .ok()
                .flatten()
                .flatten();
            handle
                .authenticate_publickey(
                    user,
                    russh::keys::PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                )
                .await
        }
        Auth::Agent { socket } => return agent_login(handle, user, label, socket).await,
        Auth::Password(password) => {
            let result = handle.authenticate_password(user, password.clone()).await;
            match result {
                Ok(russh::client::AuthResult::Failure {
                    remaining_methods, ..
                }) if remaining_methods.contains(&russh::MethodKind::KeyboardInteractive) => {
                    // PAM-backed servers often ask for the password this way
                    if keyboard_interactive(&mut handle, user, &password).await {
                        return Ok(handle);
                    }
                    return Err(refused(
                        user,
                        label,
                        vec!["password", "keyboard-interactive"],
                        None,
                    ));
                }
                other => other,
            }
        }
    };
    match result {
        Ok(r) if r.success() => Ok(handle),
        Ok(_) => Err(refused(user, label, vec![method], None)),
        Err(e) => Err(SshError::Auth {
            user: user.to_owned(),
            host: label.to_owned(),
            source: Box::new(e),
        }),
    }
}

/// Logs in with each key an ssh-agent holds, until one is accepted.
async fn agent_login(
    mut handle: client::Handle<Client>,
    user: &str,
    label: &str,
    socket: Option<std::path::PathBuf>,
) -> Result<client::Handle<Client>, SshError> {
    use russh::keys::agent::{client::AgentClient, AgentIdentity};
    let which = match &socket {
        Some(path) => path.display().to_string(),
        None => "SSH_AUTH_SOCK".into(),
    };
    let connected = match &socket {
        Some(path) => AgentClient::connect_uds(path).await,
        None => AgentClient::connect_env().await,
    };
    let mut agent = connected.map_err(|e| SshError::AgentUnreachable {
        agent: which.clone(),
        source: Box::new(e),
    })?;
    let identities = agent
        .request_identities()
        .await
        .map_err(|e| SshError::AgentKeys {
            agent: which.clone(),
            source: Box::new(e),
        })?;
    if identities.is_empty() {
        return Err(SshError::AgentEmpty { agent: which });
    }
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten();
    let tried = identities.len();
    for identity in identities {
        let result = match identity {
            AgentIdentity::PublicKey { key, .. } => {
                let hash = if key.algorithm().is_rsa() {
                    rsa_hash
                } else {
                    None
                };
                handle
                    .authenticate_publickey_with(user, key, hash, &mut agent)
                    .await
            }
            AgentIdentity::Certificate { certificate, .. } => {
                handle
                    .authenticate_certificate_with(user, certificate, None, &mut agent)
                    .await
            }
        };
        match result {
            Ok(r) if r.success() => return Ok(handle),
            Ok(_) => {}
            Err(e) => {
                return Err(SshError::AgentLogin {
                    agent: which,
                    host: label.to_owned(),
                    source: Box::new(e),
                })
            }
        }
    }
    Err(refused(
        user,
        label,
        vec!["publickey from ssh-agent"],
        Some(tried),
    ))
}

fn refused(
    user: &str,
    host: &str,
    methods: Vec<&'static str>,
    agent_keys: Option<usize>,
) -> SshError {
    SshError::AuthRefused {
        user: user.to_owned(),
        host: host.to_owned(),
        methods,
        agent_keys,
    }
}

/// Answers keyboard-interactive prompts with the password: every prompt that
/// does not echo gets it, a few rounds at most.
async fn keyboard_interactive(
    handle: &mut client::Handle<Client>,
    user: &str,
    password: &str,
) -> bool {
    use russh::client::KeyboardInteractiveAuthResponse as Reply;
    let mut reply = handle
        .authenticate_keyboard_interactive_start(user, None::<String>)
        .await;
    for _ in 0..5 {
        match reply {
            Ok(Reply::Success) => return true,
            Ok(Reply::InfoRequest { prompts, .. }) => {
                let answers = prompts
                    .iter()
                    .map(|p| {
                        if p.echo {
                            String::new()
                        } else {
                            password.to_owned()
                        }
                    })
                    .collect();
                reply = handle
                    .authenticate_keyboard_interactive_respond(answers)
                    .await;
            }
            Ok(Reply::Failure { .. }) | Err(_) => return false,
        }
    }
    false
}
