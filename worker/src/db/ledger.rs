//! Spend this worker has charged since it started, per key, user and team, and how much of it is
//! already in the database. Budget checks use the database value read at cache time plus what
//! this worker added since (`effective`), so a key stops at its budget without a database read
//! per request. (Spend from other workers arrives with the next cache refresh; budgets that hold
//! exactly across workers and instances come with the Redis reservation.)

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Entity {
    Key(String),
    User(String),
    Team(String),
}

#[derive(Debug, Default)]
pub struct Ledger {
    charged: HashMap<Entity, f64>,
    flushed: HashMap<Entity, f64>,
}

impl Ledger {
    pub fn charge(&mut self, entity: Entity, amount: f64) {
        *self.charged.entry(entity).or_default() += amount;
    }

    pub fn flushed(&mut self, entity: Entity, amount: f64) {
        *self.flushed.entry(entity).or_default() += amount;
    }

    /// What of this entity's spend had reached the database so far (taken when a row is read).
    pub fn flushed_so_far(&self, entity: &Entity) -> f64 {
        self.flushed.get(entity).copied().unwrap_or(0.0)
    }

    /// The spend to judge a budget by: the database value read when `flushed_at_read` was taken,
    /// plus everything this worker charged that was not in the database at that moment.
    pub fn effective(&self, entity: &Entity, db_value: f64, flushed_at_read: f64) -> f64 {
        let charged = self.charged.get(entity).copied().unwrap_or(0.0);
        db_value + (charged - flushed_at_read).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_spend_counts_unflushed_and_later_charges_once() {
        let key = Entity::Key("k".into());
        let mut l = Ledger::default();
        l.charge(key.clone(), 1.0);
        l.flushed(key.clone(), 1.0); // in the DB before the read
        l.charge(key.clone(), 0.5); // not yet flushed at read time
        let at_read = l.flushed_so_far(&key);
        let db_value = 1.0 + 3.0; // our 1.0 plus 3.0 from other workers
        assert!((l.effective(&key, db_value, at_read) - 4.5).abs() < 1e-12);
        l.charge(key.clone(), 0.25);
        l.flushed(key.clone(), 0.75); // flushed after the read: must not count twice
        assert!((l.effective(&key, db_value, at_read) - 4.75).abs() < 1e-12);
    }
}
