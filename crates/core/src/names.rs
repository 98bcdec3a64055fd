//! Length limits of the names users choose: projects, jobs, groups, options
//! and key paths. Without them one request could store a name of any size
//! that every later listing, log line and URL then carries. The limits
//! follow Rundeck's practice (its database columns): 255 characters for a
//! project or option name, 1024 for a job name or key path, 2048 for a
//! group path.

/// Longest project name, in characters.
pub const PROJECT_NAME_MAX: usize = 255;
/// Longest job name, in characters.
pub const JOB_NAME_MAX: usize = 1024;
/// Longest job group path (`a/b/c`), in characters.
pub const GROUP_MAX: usize = 2048;
/// Longest option name, in characters.
pub const OPTION_NAME_MAX: usize = 255;
/// Longest key storage path (`keys/...`), in characters.
pub const KEY_PATH_MAX: usize = 1024;

/// `Err` with a message naming `what` and the limit when `value` has more
/// than `max` characters, e.g. `project name is 100000 characters long; at
/// most 255 are allowed`.
pub fn check_length(what: &str, value: &str, max: usize) -> std::result::Result<(), String> {
    // a byte count bounds the character count: most values skip the count
    if value.len() <= max {
        return Ok(());
    }
    let chars = value.chars().count();
    if chars <= max {
        return Ok(());
    }
    Err(format!(
        "{what} is {chars} characters long; at most {max} are allowed"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_characters_and_name_the_field() {
        assert!(check_length("project name", &"p".repeat(255), PROJECT_NAME_MAX).is_ok());
        assert_eq!(
            check_length("project name", &"p".repeat(256), PROJECT_NAME_MAX),
            Err("project name is 256 characters long; at most 255 are allowed".into())
        );
        // 255 two-byte characters are 510 bytes but within the limit
        assert!(check_length("option name", &"é".repeat(255), OPTION_NAME_MAX).is_ok());
        assert!(check_length("option name", &"é".repeat(256), OPTION_NAME_MAX).is_err());
    }
}
