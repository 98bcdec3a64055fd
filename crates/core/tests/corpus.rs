//! The corpus of real Rundeck documents in `tests/corpus/` (job YAML and
//! JSON, `.aclpolicy` files), taken from Rundeck's documentation and test
//! suites, each with Rundeck's verdict: see `tests/corpus/README.md`.
//!
//! Every valid job is read, stored (the SQL store keeps a job as its YAML
//! serialization), exported with nothing the document wrote lost or changed
//! in type, and exported again byte for byte the same; every invalid one is
//! refused; every policy gets Rundeck's verdict.
#![allow(clippy::unwrap_used)]

use foredeck_core::format::{jobs_to_json, jobs_to_yaml, read_jobs_json, read_jobs_yaml};
use foredeck_core::Job;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

/// A row of the jobs manifest.
struct Row {
    file: String,
    verdict: String,
    source: String,
    /// Words Foredeck's refusal must hold (Rundeck's message where it has
    /// one); empty when not given.
    refusal: String,
}

/// The rows of a manifest.
fn manifest(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.splitn(4, '\t');
            let mut next = || f.next().unwrap_or_default().to_owned();
            Row {
                file: next(),
                verdict: next(),
                source: next(),
                refusal: next(),
            }
        })
        .collect()
}

/// Problems with a refusal: none when `errors` is not empty and one of
/// them holds `refusal`.
fn refused_as(errors: &[String], refusal: &str) -> Vec<String> {
    if errors.is_empty() {
        vec!["accepted, Rundeck refuses it".into()]
    } else if !errors.iter().any(|e| e.contains(refusal)) {
        vec![format!(
            "refused without {refusal:?}: {}",
            errors.join("; ")
        )]
    } else {
        Vec::new()
    }
}

/// The document as a generic value, types as written.
fn generic(text: &str, json: bool) -> Value {
    if json {
        serde_json::from_str(text).unwrap()
    } else {
        serde_yaml_ng::from_str(text).unwrap()
    }
}

/// Rundeck's own rewrites of a job, which its export makes as well: options
/// given as a map by name are written as a list, `id: null` is dropped (the
/// job gets one), and the project is not written (it is where the document
/// is imported).
fn as_rundeck_writes(mut job: Value) -> Value {
    let Some(fields) = job.as_object_mut() else {
        return job;
    };
    fields.remove("project");
    if fields.get("id").is_some_and(Value::is_null) {
        fields.remove("id");
    }
    if let Some(Value::Object(by_name)) = fields.get("options") {
        let list: Vec<Value> = by_name
            .iter()
            .map(|(name, o)| {
                let mut o = match o {
                    Value::Object(o) => o.clone(),
                    _ => serde_json::Map::new(),
                };
                o.insert("name".into(), Value::String(name.clone()));
                Value::Object(o)
            })
            .collect();
        if list.is_empty() {
            fields.remove("options");
        } else {
            fields.insert("options".into(), Value::Array(list));
        }
    }
    job
}

/// Every value of `written` is in `exported` at the same place with the
/// same type and value; names where not.
fn lost(written: &Value, exported: &Value, at: &str, out: &mut Vec<String>) {
    match (written, exported) {
        (Value::Object(w), Value::Object(e)) => {
            for (k, v) in w {
                match e.get(k) {
                    Some(ev) => lost(v, ev, &format!("{at}.{k}"), out),
                    // a null is nothing: leaving it out loses nothing
                    None if v.is_null() => {}
                    None => out.push(format!("{at}.{k}: missing (was {v})")),
                }
            }
        }
        (Value::Array(w), Value::Array(e)) if w.len() == e.len() => {
            for (i, (v, ev)) in w.iter().zip(e).enumerate() {
                lost(v, ev, &format!("{at}[{i}]"), out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{at}: {a} became {b}")),
    }
}

fn read(text: &str, name: &str, json: bool) -> foredeck_core::Result<Vec<Result<Job, String>>> {
    let results = if json {
        read_jobs_json(text, name)?
    } else {
        read_jobs_yaml(text, name)?
    };
    Ok(results
        .into_iter()
        .map(|r| r.map_err(|f| f.error.to_string()))
        .collect())
}

fn export(jobs: &[Job], json: bool) -> String {
    if json {
        jobs_to_json(jobs).unwrap()
    } else {
        jobs_to_yaml(jobs).unwrap()
    }
}

/// Checks one valid document; the problems found.
fn valid_job_document(name: &str, text: &str, json: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let jobs = match read(text, name, json) {
        Ok(r) => r,
        Err(e) => return vec![format!("refused: {e}")],
    };
    let mut read_jobs = Vec::new();
    for (i, r) in jobs.into_iter().enumerate() {
        match r {
            Ok(job) => read_jobs.push(job),
            Err(e) => problems.push(format!("job #{}: refused: {e}", i + 1)),
        }
    }
    if !problems.is_empty() {
        return problems;
    }
    // through the store's own serialization, as the SQL store keeps a job
    let stored: Vec<Job> = read_jobs
        .iter()
        .map(|j| serde_yaml_ng::from_str(&serde_yaml_ng::to_string(j).unwrap()).unwrap())
        .collect();
    if stored != read_jobs {
        problems.push("changed by the store's serialization".into());
    }
    let out = export(&stored, json);
    let written = generic(text, json);
    let exported = generic(&out, json);
    let (Value::Array(w), Value::Array(e)) = (&written, &exported) else {
        return vec!["not a list".into()];
    };
    if w.len() != e.len() {
        problems.push(format!("{} jobs exported of {}", e.len(), w.len()));
    }
    for (i, (wj, ej)) in w.iter().zip(e).enumerate() {
        lost(
            &as_rundeck_writes(wj.clone()),
            ej,
            &format!("[{i}]"),
            &mut problems,
        );
    }
    // a second round trip is byte for byte the same
    match read(&out, "export", json) {
        Ok(again) => {
            let again: Vec<Job> = again.into_iter().filter_map(Result::ok).collect();
            if export(&again, json) != out {
                problems.push("second export differs from the first".into());
            }
        }
        Err(e) => problems.push(format!("export not read back: {e}")),
    }
    problems
}

/// Checks one job XML document: a valid one reads, writes, reads back to
/// the same jobs and writes the same bytes again; an invalid one is refused.
fn xml_document(name: &str, text: &str, verdict: &str, refusal: &str) -> Vec<String> {
    use foredeck_core::format::{jobs_to_xml, parse_jobs_xml, read_jobs_xml};
    if verdict == "invalid" {
        // as an import reads it: the document, or the jobs one by one
        let errors: Vec<String> = match read_jobs_xml(text, name) {
            Err(e) => vec![e.to_string()],
            Ok(jobs) => jobs
                .into_iter()
                .filter_map(|r| r.err().map(|f| f.error.to_string()))
                .collect(),
        };
        return refused_as(&errors, refusal);
    }
    let jobs = match parse_jobs_xml(text, name) {
        Err(e) => return vec![format!("refused: {e}")],
        Ok(jobs) => jobs,
    };
    let out = match jobs_to_xml(&jobs) {
        Ok(out) => out,
        Err(e) => return vec![format!("not written: {e}")],
    };
    // the project is where a document is imported: not compared
    let unplaced = |mut jobs: Vec<Job>| {
        for j in &mut jobs {
            j.project = None;
        }
        jobs
    };
    let jobs = unplaced(jobs);
    match parse_jobs_xml(&out, "export.xml").map(unplaced) {
        Ok(again) if again != jobs => vec!["written document reads back to other jobs".into()],
        Ok(again) if jobs_to_xml(&again).ok().as_deref() != Some(out.as_str()) => {
            vec!["second export differs from the first".into()]
        }
        Ok(_) => Vec::new(),
        Err(e) => vec![format!("export not read back: {e}")],
    }
}

#[test]
fn rundeck_job_documents_get_rundeck_verdicts_and_round_trip() {
    let dir = corpus().join("jobs");
    let rows = manifest(&dir);
    let (mut valid, mut invalid, mut xml_valid, mut xml_invalid) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for Row {
        file,
        verdict,
        source,
        refusal,
    } in &rows
    {
        let ext = file.rsplit('.').next().unwrap_or_default();
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let problems = match (ext, verdict.as_str()) {
            ("xml", "valid") => {
                xml_valid += 1;
                xml_document(file, &text, verdict, refusal)
            }
            ("xml", "invalid") => {
                xml_invalid += 1;
                xml_document(file, &text, verdict, refusal)
            }
            (_, "valid") => {
                valid += 1;
                valid_job_document(file, &text, ext == "json")
            }
            (_, "invalid") => {
                invalid += 1;
                let errors: Vec<String> = match read(&text, file, ext == "json") {
                    Err(e) => vec![e.to_string()],
                    Ok(jobs) => jobs.into_iter().filter_map(Result::err).collect(),
                };
                refused_as(&errors, refusal)
            }
            (_, other) => panic!("{file}: verdict {other:?}"),
        };
        if !problems.is_empty() {
            failures.push(format!("{file} ({source}): {}", problems.join("; ")));
        }
    }
    println!(
        "job documents: YAML/JSON {valid} valid, {invalid} invalid; XML {xml_valid} valid, {xml_invalid} invalid"
    );
    assert!(
        valid > 40 && invalid > 0 && xml_valid > 60 && xml_invalid > 0,
        "{valid} {invalid} {xml_valid} {xml_invalid}"
    );
    assert!(
        failures.is_empty(),
        "{}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn rundeck_policies_get_rundeck_verdicts() {
    use foredeck_core::acl::{Policy, PolicyScope};
    let dir = corpus().join("acl");
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let (mut agree, mut failures) = (0, Vec::new());
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.splitn(4, '\t').collect())
        .collect();
    for row in &rows {
        let [file, verdict, scope, source] = row[..] else {
            panic!("{row:?}");
        };
        let policy = std::fs::read_to_string(dir.join(file)).unwrap();
        let scope = match scope.strip_prefix("project:") {
            Some(p) => PolicyScope::Project(p.to_owned()),
            None => PolicyScope::System,
        };
        let got = Policy::parse(file, &policy, &scope);
        match (verdict, &got) {
            ("valid", Ok(_)) | ("invalid", Err(_)) => agree += 1,
            ("valid", Err(e)) => failures.push(format!("{file} ({source}): refused: {e:?}")),
            ("invalid", Ok(_)) => failures.push(format!("{file} ({source}): accepted")),
            (other, _) => panic!("{file}: verdict {other:?}"),
        }
    }
    println!("policies: {agree} of {} get Rundeck's verdict", rows.len());
    assert!(rows.len() > 60);
    assert!(
        failures.is_empty(),
        "{}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Rundeck's own XML jobs joined in one `<joblist>`: the jobs of its valid
/// documents and the jobs its import answers in `failed[]` (an unknown
/// workflow strategy, an option regex its values do not match), in turn.
/// Read as an import reads it, each job gets its own verdict in its place
/// and the others are read: the partial failures of a multi-job document.
#[test]
fn a_multi_job_document_of_rundeck_jobs_gets_each_job_its_verdict() {
    use foredeck_core::format::read_jobs_xml;
    let dir = corpus().join("jobs");
    let job_elements = |text: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("<job>") {
            let end = rest[start..].find("</job>").unwrap() + start + "</job>".len();
            out.push(rest[start..end].to_owned());
            rest = &rest[end..];
        }
        out
    };
    let (mut body, mut expected) = (String::new(), Vec::new());
    for row in manifest(&dir) {
        if !row.file.ends_with(".xml") {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(&row.file)).unwrap();
        let Ok(results) = read_jobs_xml(&text, &row.file) else {
            continue; // refused whole: not a job of a list
        };
        let elements = job_elements(&text);
        assert_eq!(elements.len(), results.len(), "{}", row.file);
        for (element, result) in elements.into_iter().zip(results) {
            // a job refused on its own, or one of a valid document
            if result.is_err() || row.verdict == "valid" {
                body.push_str(&element);
                body.push('\n');
                expected.push((row.file.clone(), row.verdict == "valid"));
            }
        }
    }
    let refused = expected.iter().filter(|(_, ok)| !ok).count();
    assert!(
        refused >= 10 && expected.len() > 80,
        "{refused} of {}",
        expected.len()
    );
    let doc = format!("<joblist>\n{body}</joblist>\n");
    let results = read_jobs_xml(&doc, "joined.xml").unwrap();
    assert_eq!(results.len(), expected.len());
    for (i, (result, (file, ok))) in results.iter().zip(&expected).enumerate() {
        match result {
            Ok(_) => assert!(ok, "job {} (from {file}) accepted", i + 1),
            Err(f) => {
                assert!(!ok, "job {} (from {file}) refused: {}", i + 1, f.error);
                assert_eq!(f.index, i + 1, "{file}");
            }
        }
    }
}
