//! A job's retry and schedule as documents write them: their text fields
//! read as numbers where written so (`retry: 3`, `hour: 12`), and written
//! back alike, their forms kept in the job's [`Written`].

use crate::model::flex::{Text, Written};
use crate::model::job::{Retry, Schedule, ScheduleDay, ScheduleTime, StructuredSchedule};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// [`Retry`] as written: a count, or a map with `retry` and `delay`.
pub(super) struct RawRetry {
    retry: Text,
    delay: Option<Text>,
}

impl RawRetry {
    pub(super) fn read(self, w: &mut Written) -> Retry {
        Retry {
            retry: w.read_text("retry", Some(self.retry)).unwrap_or_default(),
            delay: w.read_text("retry.delay", self.delay),
        }
    }

    pub(super) fn write(v: Retry, w: &Written) -> Self {
        RawRetry {
            retry: w.write_text("retry", Some(v.retry)).unwrap_or_default(),
            delay: w.write_text("retry.delay", v.delay),
        }
    }
}

impl Serialize for RawRetry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Full<'a> {
            retry: &'a Text,
            delay: &'a Text,
        }
        match &self.delay {
            None => self.retry.serialize(s),
            Some(delay) => Full {
                retry: &self.retry,
                delay,
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for RawRetry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Full {
                retry: Text,
                #[serde(default)]
                delay: Option<Text>,
            },
            Count(Text),
        }
        match Form::deserialize(d).map_err(|_| {
            de::Error::custom("`retry` must be a count or a map with `retry` and `delay`")
        })? {
            Form::Full { retry, delay } => Ok(RawRetry { retry, delay }),
            Form::Count(retry) => Ok(RawRetry { retry, delay: None }),
        }
    }
}

/// [`Schedule`] as written.
#[derive(Serialize, Deserialize)]
// its parse error is reworded by `format::jobs::explain`
#[serde(untagged)]
pub(super) enum RawSchedule {
    Crontab { crontab: String },
    Structured(RawStructured),
}

/// [`StructuredSchedule`] as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStructured {
    #[serde(default)]
    time: RawTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    month: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weekday: Option<RawDay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dayofmonth: Option<RawDay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    year: Option<Text>,
}

/// [`ScheduleTime`] as written.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hour: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    minute: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seconds: Option<Text>,
}

/// [`ScheduleDay`] as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDay {
    #[serde(default)]
    day: Text,
}

impl RawSchedule {
    pub(super) fn read(self, w: &mut Written) -> Schedule {
        let s = match self {
            RawSchedule::Crontab { crontab } => return Schedule::Crontab { crontab },
            RawSchedule::Structured(s) => s,
        };
        let mut day = |field, d: Option<RawDay>| {
            w.read_text(field, d.map(|d| d.day))
                .map(|day| ScheduleDay { day })
        };
        let weekday = day("schedule.weekday", s.weekday);
        let dayofmonth = day("schedule.dayofmonth", s.dayofmonth);
        Schedule::Structured(StructuredSchedule {
            time: ScheduleTime {
                hour: w.read_text("schedule.hour", s.time.hour),
                minute: w.read_text("schedule.minute", s.time.minute),
                seconds: w.read_text("schedule.seconds", s.time.seconds),
            },
            month: w.read_text("schedule.month", s.month),
            weekday,
            dayofmonth,
            year: w.read_text("schedule.year", s.year),
        })
    }

    pub(super) fn write(v: Schedule, w: &Written) -> Self {
        let s = match v {
            Schedule::Crontab { crontab } => return RawSchedule::Crontab { crontab },
            Schedule::Structured(s) => s,
        };
        let day = |field, d: Option<ScheduleDay>| {
            w.write_text(field, d.map(|d| d.day))
                .map(|day| RawDay { day })
        };
        RawSchedule::Structured(RawStructured {
            time: RawTime {
                hour: w.write_text("schedule.hour", s.time.hour),
                minute: w.write_text("schedule.minute", s.time.minute),
                seconds: w.write_text("schedule.seconds", s.time.seconds),
            },
            month: w.write_text("schedule.month", s.month),
            weekday: day("schedule.weekday", s.weekday),
            dayofmonth: day("schedule.dayofmonth", s.dayofmonth),
            year: w.write_text("schedule.year", s.year),
        })
    }
}
