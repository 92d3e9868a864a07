//! KV blobs the client's object no longer names, waiting to be deleted.
//!
//! A blob stops being named in the same transaction that names its
//! successor, often well within a second of the blob's own write (a
//! redelivery, a second PUT, a confirm right after a PUT). A delete is a
//! write, and KV allows one write per second per key, so the delete waits
//! in the object's storage and the object's alarm does it once it is due.
//! Nothing reads an unnamed blob, so the wait changes no answer.

use serde::{Deserialize, Serialize};

/// How long after a blob stops being named its delete is due: more than
/// KV's one second between writes of one key, since the blob was written
/// before it was named.
pub const DELETE_AFTER_MS: u64 = 1_500;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trash {
    keys: Vec<Trashed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trashed {
    key: String,
    /// When the delete may run, ms since the epoch.
    due: u64,
}

impl Trash {
    pub fn add(&mut self, key: String, now_ms: u64) {
        self.keys.push(Trashed {
            key,
            due: now_ms + DELETE_AFTER_MS,
        });
    }

    /// Takes at most `limit` of the keys whose delete is due at `now_ms`.
    pub fn take_due(&mut self, now_ms: u64, limit: usize) -> Vec<String> {
        let mut taken = Vec::new();
        self.keys.retain(|t| {
            let take = t.due <= now_ms && taken.len() < limit;
            if take {
                taken.push(t.key.clone());
            }
            !take
        });
        taken
    }

    /// When the next delete is due, if any: the time for the alarm.
    pub fn next_due(&self) -> Option<u64> {
        self.keys.iter().map(|t| t.due).min()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delete_is_due_only_after_more_than_a_second() {
        let mut trash = Trash::default();
        assert!(trash.is_empty());
        trash.add("a".into(), 1_000);
        assert!(!trash.is_empty());
        trash.add("b".into(), 1_400);
        assert_eq!(trash.next_due(), Some(1_000 + DELETE_AFTER_MS));
        assert!(trash.take_due(1_999, 10).is_empty());
        assert_eq!(trash.take_due(2_500, 10), ["a"]);
        assert_eq!(trash.next_due(), Some(1_400 + DELETE_AFTER_MS));
        trash.add("c".into(), 1_400);
        assert_eq!(trash.take_due(u64::MAX, 1), ["b"]);
        assert_eq!(trash.take_due(u64::MAX, 1), ["c"]);
        assert!(trash.is_empty());
        assert_eq!(trash.next_due(), None);
    }
}
