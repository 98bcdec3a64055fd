//! The rules that decide whether a job or a project may run now, shared by
//! every path that starts or continues a run: the run service, the
//! scheduler's fires and the engine's job references.
//!
//! A leaf: it reads only the model, so the engine and the scheduler use it
//! without depending on the service (which depends on both).

use crate::model::{Job, Project};

/// Project configuration key that stops a project's schedules (Rundeck's name).
pub const PROJECT_DISABLE_SCHEDULE: &str = "project.disable.schedule";
/// Project configuration key that stops all of a project's executions.
pub const PROJECT_DISABLE_EXECUTIONS: &str = "project.disable.executions";

/// Whether `job`'s executions are enabled (Rundeck's `executionEnabled`).
pub fn job_executions_enabled(job: &Job) -> bool {
    job.execution_enabled
}

/// Whether `job`'s schedule fires: its schedule and its executions are
/// enabled (Rundeck's `scheduleEnabled` and `executionEnabled`).
pub fn job_schedule_enabled(job: &Job) -> bool {
    job.schedule_enabled && job_executions_enabled(job)
}

/// Whether `project` turns the boolean setting `key` on (the value `true`,
/// surrounding blanks ignored, as Rundeck reads it).
pub fn project_flag(project: &Project, key: &str) -> bool {
    project.config.get(key).is_some_and(|v| v.trim() == "true")
}

/// Whether `project`'s executions are disabled (`project.disable.executions`).
pub fn project_executions_disabled(project: &Project) -> bool {
    project_flag(project, PROJECT_DISABLE_EXECUTIONS)
}

/// Whether `project`'s schedules are disabled (`project.disable.schedule`).
pub fn project_schedules_disabled(project: &Project) -> bool {
    project_flag(project, PROJECT_DISABLE_SCHEDULE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_flags_read_true_only() {
        let mut p = Project::new("p");
        assert!(!project_executions_disabled(&p) && !project_schedules_disabled(&p));
        p.config
            .insert(PROJECT_DISABLE_EXECUTIONS.into(), " true ".into());
        p.config
            .insert(PROJECT_DISABLE_SCHEDULE.into(), "yes".into());
        assert!(project_executions_disabled(&p));
        assert!(!project_schedules_disabled(&p));
    }

    #[test]
    fn job_flag() {
        let mut j = Job::new("j", Default::default());
        assert!(job_executions_enabled(&j));
        assert!(job_schedule_enabled(&j));
        j.schedule_enabled = false;
        assert!(!job_schedule_enabled(&j) && job_executions_enabled(&j));
        j.schedule_enabled = true;
        j.execution_enabled = false;
        assert!(!job_executions_enabled(&j));
        assert!(
            !job_schedule_enabled(&j),
            "a schedule does not run a disabled job"
        );
    }
}
