//! The execution query's filters over HTTP, one by one as Rundeck documents
//! them for `GET /api/{v}/project/{p}/executions`: job names and groups
//! and their exclusions, excluded job ids, execution type (from API 20),
//! aborter, the end-time filters, ad hoc and job filters together.

use super::*;
use chrono::{Duration, Utc};
use foredeck_core::{Execution, ExecutionStatus, ExecutionType, Job, Project, Step, Workflow};

/// Jobs and executions of project `p`; returns the execution ids, oldest
/// first, and the job uuids.
async fn fixture(s: &ApiState) -> (Vec<u64>, Vec<String>) {
    s.store.create_project(&Project::new("p")).await.unwrap();
    let mut jobs = Vec::new();
    for (name, group) in [
        ("deploy", Some("web")),
        ("deploy", Some("web/eu")),
        ("backup", None),
        ("Nightly Deploy", Some("db")),
    ] {
        let mut j = Job::new(name, Workflow::new(vec![Step::command("true")]));
        j.group = group.map(str::to_owned);
        let j = s.store.put_job("p", &j).await.unwrap();
        jobs.push(j.uuid.unwrap());
    }
    let now = Utc::now();
    // (job, user, type, status, aborted by, ended days ago)
    type Row = (
        Option<usize>,
        &'static str,
        ExecutionType,
        ExecutionStatus,
        Option<&'static str>,
        Option<i64>,
    );
    let rows: [Row; 5] = [
        (
            Some(0),
            "alice",
            ExecutionType::User,
            ExecutionStatus::Succeeded,
            None,
            Some(40),
        ),
        (
            Some(1),
            "bob",
            ExecutionType::Scheduled,
            ExecutionStatus::Failed,
            None,
            Some(10),
        ),
        (
            Some(2),
            "alice",
            ExecutionType::UserScheduled,
            ExecutionStatus::Aborted,
            Some("carol"),
            Some(2),
        ),
        (
            Some(3),
            "bob",
            ExecutionType::User,
            ExecutionStatus::Running,
            None,
            None,
        ),
        (
            None,
            "alice",
            ExecutionType::User,
            ExecutionStatus::Succeeded,
            None,
            Some(1),
        ),
    ];
    let mut ids = Vec::new();
    for (i, (job, user, ty, status, by, ended)) in rows.into_iter().enumerate() {
        let mut e = Execution::new("p", "x", user);
        e.job_id = job.map(|j| jobs[j].clone());
        e.execution_type = ty;
        e.status = status;
        e.aborted_by = by.map(str::to_owned);
        e.date_started = now - Duration::days(50) + Duration::minutes(i as i64);
        e.date_ended = ended.map(|d| now - Duration::days(d));
        ids.push(s.store.create_execution(&e).await.unwrap());
    }
    (ids, jobs)
}

/// The ids a query answers, newest first, after checking its total.
async fn ids(s: &ApiState, v: u32, query: &str) -> Vec<u64> {
    let uri = format!("/api/{v}/project/p/executions?{query}");
    let (status, body) = call(s, Method::GET, &uri, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    let v = json(&body);
    let got: Vec<u64> = v["executions"]
        .as_array()
        .unwrap_or_else(|| panic!("{uri}: {body}"))
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(v["paging"]["total"], got.len(), "{uri}: {body}");
    got
}

#[tokio::test]
async fn every_documented_filter_narrows_the_query() {
    let s = state().await;
    let (e, jobs) = fixture(&s).await;
    // newest first
    let want = |v: &[usize]| v.iter().rev().map(|i| e[*i]).collect::<Vec<_>>();
    let cases: Vec<(String, Vec<usize>)> = vec![
        ("jobListFilter=web/deploy".into(), vec![0]),
        (
            "jobListFilter=web%2Fdeploy&jobListFilter=backup".into(),
            vec![0, 2],
        ),
        ("jobListFilter=deploy".into(), vec![]),
        ("excludeJobListFilter=web/deploy".into(), vec![1, 2, 3]),
        ("jobExactFilter=deploy".into(), vec![0, 1]),
        ("excludeJobExactFilter=deploy".into(), vec![2, 3]),
        ("jobFilter=DEPLOY".into(), vec![0, 1, 3]),
        ("excludeJobFilter=deploy".into(), vec![2]),
        ("groupPath=web".into(), vec![0, 1]),
        ("groupPath=-".into(), vec![2]),
        ("groupPathExact=web".into(), vec![0]),
        ("groupPathExact=-".into(), vec![2]),
        ("groupPath=-&groupPathExact=web".into(), vec![]),
        ("excludeGroupPath=web".into(), vec![2, 3]),
        ("excludeGroupPath=-".into(), vec![0, 1, 3]),
        ("excludeGroupPathExact=web".into(), vec![1, 2, 3]),
        ("excludeGroupPathExact=-".into(), vec![0, 1, 3]),
        (format!("jobIdListFilter={}", jobs[1]), vec![1]),
        (format!("excludeJobIdListFilter={}", jobs[1]), vec![0, 2, 3]),
        (
            format!(
                "excludeJobIdListFilter={}&excludeJobIdListFilter={}",
                jobs[1], jobs[0]
            ),
            vec![2, 3],
        ),
        ("executionTypeFilter=scheduled".into(), vec![1]),
        ("executionTypeFilter=user-scheduled".into(), vec![2]),
        ("executionTypeFilter=user".into(), vec![0, 3, 4]),
        ("abortedbyFilter=carol".into(), vec![2]),
        ("abortedbyFilter=alice".into(), vec![]),
        ("userFilter=alice".into(), vec![0, 2, 4]),
        // end times: running executions have none
        ("recentFilter=5d".into(), vec![2, 4]),
        ("recentFilter=1m".into(), vec![1, 2, 4]),
        ("olderFilter=5d".into(), vec![0, 1]),
        ("olderFilter=5w".into(), vec![0]),
        ("adhoc=true".into(), vec![4]),
        ("adhoc=false".into(), vec![0, 1, 2, 3]),
        (
            "adhoc=false&userFilter=alice&recentFilter=30d".into(),
            vec![2],
        ),
        ("jobExactFilter=deploy&statusFilter=failed".into(), vec![1]),
    ];
    for (query, expected) in cases {
        assert_eq!(ids(&s, 59, &query).await, want(&expected), "{query}");
    }
    // begin and end: exact end times, in milliseconds or ISO-8601
    let now = Utc::now();
    let ms = |h: i64| (now - Duration::hours(h)).timestamp_millis();
    let q = format!("begin={}&end={}", ms(11 * 24), ms(36));
    assert_eq!(ids(&s, 59, &q).await, want(&[1, 2]), "{q}");
    let iso = (now - Duration::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let q = format!("begin={iso}");
    assert_eq!(ids(&s, 59, &q).await, want(&[2, 4]), "{q}");
    let q = format!("end={iso}");
    assert_eq!(ids(&s, 59, &q).await, want(&[0, 1]), "{q}");
    // olderFilter wins over end, begin over recentFilter, as in Rundeck
    let q = format!("olderFilter=20d&end={iso}");
    assert_eq!(ids(&s, 59, &q).await, want(&[0]), "{q}");
    let q = format!("recentFilter=1d&begin={}", ms(11 * 24));
    assert_eq!(ids(&s, 59, &q).await, want(&[1, 2, 4]), "{q}");
    // executionTypeFilter came with API 20: before, it is ignored
    assert_eq!(
        ids(&s, 19, "executionTypeFilter=scheduled").await,
        want(&[0, 1, 2, 3, 4])
    );
    // the metrics take the same filters
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/project/p/executions/metrics?excludeGroupPath=web",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["total"], 2, "{body}");
}

#[tokio::test]
async fn executions_show_their_type_and_aborter() {
    let s = state().await;
    let (e, _) = fixture(&s).await;
    let all = "/api/59/project/p/executions?max=10";
    let (_, body) = call(&s, Method::GET, all, Some(ADMIN), None).await;
    let v = json(&body);
    let of = |id: u64| {
        v["executions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(of(e[1])["executionType"], "scheduled", "{body}");
    assert_eq!(of(e[2])["executionType"], "user-scheduled", "{body}");
    assert_eq!(of(e[4])["executionType"], "user", "{body}");
    assert_eq!(of(e[2])["abortedby"], "carol", "{body}");
    assert!(of(e[1]).get("abortedby").is_none(), "{body}");
}

#[tokio::test]
async fn bad_filters_are_refused_naming_the_parameter() {
    let s = state().await;
    fixture(&s).await;
    for (query, names) in [
        ("olderFilter=2x", "olderFilter"),
        ("recentFilter=2x", "recentFilter"),
        ("executionTypeFilter=cron", "executionTypeFilter"),
        ("end=tomorrow", "end"),
        ("begin=yesterday", "begin"),
        ("adhoc=true&jobFilter=deploy", "adhoc"),
        ("adhoc=true&excludeGroupPath=web", "adhoc"),
    ] {
        let uri = format!("/api/59/project/p/executions?{query}");
        let (status, body) = call(&s, Method::GET, &uri, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_error(&body, "api.error.invalid.request");
        assert!(body.contains(names), "{query}: {body}");
    }
}
