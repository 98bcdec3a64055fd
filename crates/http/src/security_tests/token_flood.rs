//! Finding 6 of issue 17: an invalid-token flood must be cheap and must not
//! take the slots of authenticated requests. Past a budget of failed
//! lookups an address's unknown tokens are refused (429) without a store
//! lookup; other addresses and known tokens keep working.

use super::login_lockout::FromAddress;
use super::*;

#[tokio::test(start_paused = true)]
async fn invalid_tokens_from_one_address_are_refused_cheaply() {
    let env = env().await;
    let budget = env.state.token_guard.max_failures;
    // the admin token is known (looked up once) before the flood
    let a = env
        .call(Method::GET, "/api/59/system/info")
        .sent_from("10.66.0.1")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    for i in 0..budget {
        env.call(Method::GET, "/api/59/system/info")
            .sent_from("10.66.0.1")
            .token(&format!("guess-{i}-0123456789abcdef"))
            .send()
            .await
            .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    }
    let a = env
        .call(Method::GET, "/api/59/system/info")
        .sent_from("10.66.0.1")
        .token("one-more-guess-0123456789abcdef")
        .send()
        .await;
    a.error(StatusCode::TOO_MANY_REQUESTS, "api.error.auth.throttled");
    assert!(a.json()["message"].as_str().unwrap().contains("10.66.0.1"));
    assert!(a.headers.get("retry-after").is_some());
    // a token already known still works from there
    let a = env
        .call(Method::GET, "/api/59/system/info")
        .sent_from("10.66.0.1")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // another address, with a token never seen before, is not affected
    let a = env
        .call(Method::GET, "/api/59/user/info")
        .sent_from("10.7.0.1")
        .token(OPS)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // the refusal ends with its window
    tokio::time::advance(env.state.token_guard.window).await;
    let a = env
        .call(Method::GET, "/api/59/user/info")
        .sent_from("10.66.0.1")
        .token(NOBODY)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn token_lookups_have_their_own_budget() {
    let mut env = env().await;
    let a = env
        .call(Method::GET, "/api/59/system/info")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // with every lookup slot taken, an unknown token is refused at once ...
    env.state.limits.max_unauthenticated = 0;
    env.call(Method::GET, "/api/59/system/info")
        .sent_from("10.66.0.1")
        .token("a-guess-0123456789abcdef")
        .send()
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE, "api.error.overloaded");
    // ... while a known token needs no slot of that budget
    let a = env
        .call(Method::GET, "/api/59/system/info")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}
