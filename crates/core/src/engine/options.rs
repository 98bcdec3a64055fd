//! Validation of the option values given to a run against the job's options.

use crate::error::{Error, Result};
use crate::model::Job;
use crate::vault::SecretSource;
use regex::Regex;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Options after validation: values (defaults applied) and the names of the
/// secure ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvedOptions {
    /// Name -> value.
    pub values: BTreeMap<String, String>,
    /// Names of secure options.
    pub secure: BTreeSet<String>,
}

/// `values` with those named by `is_secure` replaced by `[SECURE]`, as
/// execution records and logs show them.
pub(crate) fn mask(
    values: &BTreeMap<String, String>,
    is_secure: impl Fn(&str) -> bool,
) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|(k, v)| {
            let v = if is_secure(k) {
                "[SECURE]".to_owned()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

impl ResolvedOptions {
    /// Values with secure ones replaced by `[SECURE]`, for records and logs.
    pub fn masked(&self) -> BTreeMap<String, String> {
        mask(&self.values, |k| self.secure.contains(k))
    }
}

/// `given` with the secure options that were not given filled in from their
/// key-storage default (`storagePath`), read through `secrets`. Borrowed
/// unchanged when there is nothing to fill. An entry that cannot be read is
/// an error naming the option and the path, never a run without the value.
pub(crate) async fn with_stored_defaults<'a>(
    job: &Job,
    given: &'a BTreeMap<String, String>,
    secrets: Option<&dyn SecretSource>,
) -> Result<Cow<'a, BTreeMap<String, String>>> {
    let mut out = Cow::Borrowed(given);
    for opt in job.options.iter().filter(|o| o.secure) {
        let Some(path) = opt.storage_path.as_deref() else {
            continue;
        };
        if given.get(&opt.name).is_some_and(|v| !v.is_empty()) {
            continue;
        }
        let invalid = |message: String| Error::InvalidOption {
            option: opt.name.clone(),
            message,
        };
        let Some(secrets) = secrets else {
            return Err(invalid(format!(
                "its default is in key storage ({path}), which this engine has no access to"
            )));
        };
        let value = secrets
            .password(path)
            .await
            .map_err(|e| invalid(format!("its default cannot be read from key storage: {e}")))?;
        out.to_mut().insert(opt.name.clone(), value);
    }
    Ok(out)
}

fn full_match(re: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{re})$")).ok()
}

/// Checks `given` against the job's options: unknown names, required values,
/// enforced allowed values, regexes and multi-value delimiters. Defaults fill
/// in options that were not given.
pub fn resolve_options(job: &Job, given: &BTreeMap<String, String>) -> Result<ResolvedOptions> {
    for name in given.keys() {
        if job.option(name).is_none() {
            let defined: Vec<&str> = job.options.iter().map(|o| o.name.as_str()).collect();
            let hint = if defined.is_empty() {
                " (it defines no options)".to_owned()
            } else {
                format!(" (defined: {})", defined.join(", "))
            };
            return Err(Error::UnknownOption {
                job: job.full_name(),
                option: name.clone(),
                hint,
            });
        }
    }
    let mut out = ResolvedOptions::default();
    for opt in &job.options {
        let invalid = |message: String| Error::InvalidOption {
            option: opt.name.clone(),
            message,
        };
        if opt.secure {
            out.secure.insert(opt.name.clone());
        }
        let value = given
            .get(&opt.name)
            .cloned()
            .or_else(|| opt.default.clone())
            .filter(|v| !v.is_empty());
        let Some(value) = value else {
            // a key-storage default is read when the run starts
            // ([`with_stored_defaults`]); it satisfies `required` here
            if opt.required && !(opt.secure && opt.storage_path.is_some()) {
                return Err(invalid("a value is required".into()));
            }
            continue;
        };
        let parts: Vec<&str> = if opt.multivalued {
            let delim = opt
                .delimiter
                .as_deref()
                .filter(|d| !d.is_empty())
                .unwrap_or(",");
            value.split(delim).collect()
        } else {
            vec![value.as_str()]
        };
        if opt.enforced && !opt.values.is_empty() {
            for p in &parts {
                if !opt.values.iter().any(|v| v == p) {
                    return Err(invalid(format!(
                        "value {:?} is not one of the allowed values: {}",
                        if opt.secure { "[SECURE]" } else { p },
                        opt.values.join(", ")
                    )));
                }
            }
        }
        if let Some(re) = &opt.regex {
            let rx =
                full_match(re).ok_or_else(|| invalid(format!("regex {re:?} does not compile")))?;
            for p in &parts {
                if !rx.is_match(p) {
                    return Err(invalid(format!(
                        "value {:?} does not match the regex {re:?}",
                        if opt.secure { "[SECURE]" } else { p }
                    )));
                }
            }
        }
        out.values.insert(opt.name.clone(), value);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{JobOption, Step, Workflow};

    fn job() -> Job {
        let mut j = Job::new("deploy", Workflow::new(vec![Step::command("true")]));
        let mut env = JobOption::new("env");
        env.required = true;
        env.enforced = true;
        env.values = vec!["dev".into(), "prod".into()];
        let mut port = JobOption::new("port");
        port.regex = Some("[0-9]+".into());
        port.default = Some("80".into());
        let mut hosts = JobOption::new("hosts");
        hosts.multivalued = true;
        hosts.delimiter = Some(" ".into());
        hosts.regex = Some("[a-z0-9]+".into());
        let mut pw = JobOption::new("pw");
        pw.secure = true;
        j.options = vec![env, port, hosts, pw];
        j
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_required_enforced_regex_multivalue() {
        let j = job();
        let r = resolve_options(
            &j,
            &given(&[("env", "prod"), ("hosts", "a b"), ("pw", "s3")]),
        )
        .unwrap();
        assert_eq!(r.values["port"], "80");
        assert_eq!(r.masked()["pw"], "[SECURE]");
        assert!(matches!(
            resolve_options(&j, &given(&[])),
            Err(Error::InvalidOption { .. })
        ));
        assert!(resolve_options(&j, &given(&[("env", "qa")])).is_err());
        assert!(resolve_options(&j, &given(&[("env", "dev"), ("port", "80 | whoami")])).is_err());
        assert!(resolve_options(&j, &given(&[("env", "dev"), ("hosts", "a B")])).is_err());
    }

    #[test]
    fn unknown_option_names_the_job_and_lists_options() {
        let e = resolve_options(&job(), &given(&[("env", "dev"), ("colour", "red")])).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("deploy") && msg.contains("colour") && msg.contains("env, port"),
            "{msg}"
        );
    }

    #[derive(Debug)]
    struct OneSecret;

    #[async_trait::async_trait]
    impl SecretSource for OneSecret {
        async fn password(&self, path: &str) -> Result<String> {
            match path {
                "keys/pw" => Ok("from-storage".into()),
                _ => Err(Error::NotFound {
                    kind: "key",
                    id: path.into(),
                }),
            }
        }
    }

    fn stored(path: &str) -> Job {
        let mut j = Job::new("j", Workflow::new(vec![Step::command("true")]));
        let mut pw = JobOption::new("pw");
        pw.secure = true;
        pw.required = true;
        pw.storage_path = Some(path.into());
        j.options = vec![pw];
        j
    }

    #[tokio::test]
    async fn a_key_storage_default_fills_a_secure_option_not_given() {
        let none = BTreeMap::new();
        let job = stored("keys/pw");
        // required is satisfied by the stored default before it is read
        assert!(resolve_options(&job, &none).is_ok());
        let filled = with_stored_defaults(&job, &none, Some(&OneSecret))
            .await
            .unwrap();
        assert_eq!(filled.get("pw").map(String::as_str), Some("from-storage"));
        // a given value wins, and nothing is read
        let given = BTreeMap::from([("pw".to_owned(), "given".to_owned())]);
        let kept = with_stored_defaults(&stored("keys/none"), &given, Some(&OneSecret))
            .await
            .unwrap();
        assert!(matches!(kept, Cow::Borrowed(_)));
    }

    #[tokio::test]
    async fn an_unreadable_key_storage_default_refuses_the_run_naming_the_option() {
        let none = BTreeMap::new();
        let e = with_stored_defaults(&stored("keys/none"), &none, Some(&OneSecret))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("pw") && e.contains("keys/none"), "{e}");
        let e = with_stored_defaults(&stored("keys/pw"), &none, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("pw") && e.contains("keys/pw"), "{e}");
    }
}
