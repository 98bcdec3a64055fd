//! Notification webhook URLs follow the address policy of `run/url`: a job
//! whose webhook names a link-local, metadata, unspecified, multicast or
//! broadcast address is refused when it is saved (and never sent to: the
//! notifier checks again, resolving host names, when it sends).

use super::*;

fn job(urls: &str) -> String {
    format!(
        "- name: notifies\n  sequence:\n    commands:\n      - exec: 'true'\n  notification:\n    onfailure:\n      urls: '{urls}'\n"
    )
}

async fn import(env: &Env, yaml: String) -> Value {
    let a = env
        .call(Method::POST, "/api/59/project/p/jobs/import")
        .token(ADMIN)
        .body("application/yaml", yaml)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.json()
}

#[tokio::test]
async fn webhook_notifications_to_metadata_and_link_local_addresses_are_refused() {
    let env = env().await;
    env.call(Method::POST, "/api/59/projects")
        .token(ADMIN)
        .json(r#"{"name":"p"}"#)
        .send()
        .await;
    for (url, address) in [
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
        ),
        ("http://[fd00:ec2::254]/latest", "fd00:ec2::254"),
        ("http://[::ffff:169.254.169.254]/", "169.254.169.254"),
        ("https://[fe80::1]:8443/hook", "fe80::1"),
        ("http://0.0.0.0:4440/api", "0.0.0.0"),
        ("http://224.0.0.1/", "224.0.0.1"),
        ("http://169.254.169.254/${job.name}", "169.254.169.254"),
    ] {
        let a = import(&env, job(&format!("https://hooks.example.com/ok, {url}"))).await;
        assert_eq!(a["succeeded"].as_array().unwrap().len(), 0, "{url}: {a}");
        let err = a["failed"][0]["error"].as_str().unwrap();
        assert!(err.contains("notification.onfailure"), "{url}: {err}");
        assert!(err.contains(address), "{url}: {err}");
    }
    assert!(env
        .store
        .find_job("p", None, "notifies")
        .await
        .unwrap()
        .is_none());
    // names are checked when the notification is sent (they may resolve
    // differently then); loopback and private addresses are allowed, as
    // for run/url; property tokens are expanded at send time
    let a = import(
        &env,
        job("https://hooks.example.com/${job.name}, http://127.0.0.1:9000/h, http://${execution.user}.example/x"),
    )
    .await;
    assert_eq!(a["succeeded"].as_array().unwrap().len(), 1, "{a}");
}
