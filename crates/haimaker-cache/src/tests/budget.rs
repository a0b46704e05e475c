//! Budgets against a real Redis.

use std::time::Duration;

use tokio::task::JoinSet;

use super::{Cleanup, connect, random_prefix};
use crate::{BudgetEntity, Redis};

fn entity(id: &str, max_budget: Option<f64>, db_spend: f64) -> BudgetEntity {
    BudgetEntity {
        id: id.to_owned(),
        max_budget,
        db_spend,
    }
}

/// The live spend (spend + reserved) of an entity, read through a reservation that cannot fit.
async fn live_spend(redis: &Redis, id: &str) -> f64 {
    let r = redis
        .reserve(&[entity(id, Some(0.0), 0.0)], 1e12)
        .await
        .expect("reserve");
    assert!(!r.granted);
    r.refused.expect("refused").1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reservations_never_overspend() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let (a, b) = (connect(&prefix).await, connect(&prefix).await);
    let id = "key:busy".to_owned();
    let mut tasks = JoinSet::new();
    for i in 0..100u64 {
        let redis = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = id.clone();
        tasks.spawn(async move {
            let entities = [entity(&id, Some(100.0), 0.0)];
            let r = redis.reserve(&entities, 12.5).await.expect("reserve");
            if !r.granted {
                let (index, live) = r.refused.expect("a refusal says who");
                assert_eq!(index, 0);
                assert!(live + 12.5 > 100.0, "refused at live spend {live}");
                return 0.0;
            }
            // Hold the reservation a little, as a real call would.
            tokio::time::sleep(Duration::from_millis(i % 7)).await;
            redis.settle(&[id], 12.5, 10.0).await.expect("settle");
            10.0
        });
    }
    let mut granted = 0;
    let mut spent = 0.0;
    while let Some(result) = tasks.join_next().await {
        let cost = result.expect("task");
        if cost > 0.0 {
            granted += 1;
            spent += cost;
        }
    }
    assert!(spent <= 100.0, "spent {spent}");
    assert!(granted >= 8, "only {granted} granted");
    // Everything settled: live spend is exactly what was spent, nothing stays reserved.
    assert_eq!(live_spend(&a, &id).await, spent);
    assert_eq!(a.test_get("budget:key:busy:reserved").await, None);
}

#[tokio::test]
async fn spend_is_seeded_once_from_the_database_and_reset() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let a = connect(&prefix).await;
    let id = "user:u".to_owned();

    // First sight: spend starts at the DB's 90.
    let r = a
        .reserve(&[entity(&id, Some(100.0), 90.0)], 5.0)
        .await
        .expect("reserve");
    assert!(r.granted);
    let ttl = a.test_pttl("budget:user:u:spend").await;
    assert!((80_000_000..=86_400_000).contains(&ttl), "spend TTL {ttl}");

    // The DB figure is not read again (SET NX): live = 90 + 5 reserved.
    let r = a
        .reserve(&[entity(&id, Some(100.0), 0.0)], 6.0)
        .await
        .expect("reserve");
    assert_eq!((r.granted, r.refused), (false, Some((0, 95.0))));

    // Settling replaces the estimate with the real cost: 94 spent, an exact fit is granted.
    a.settle(std::slice::from_ref(&id), 5.0, 4.0)
        .await
        .expect("settle");
    assert_eq!(live_spend(&a, &id).await, 94.0);
    let r = a
        .reserve(&[entity(&id, Some(100.0), 0.0)], 6.0)
        .await
        .expect("reserve");
    assert!(r.granted, "94 + 6 fits 100 exactly");

    // A budget reset zeroes the spend; the running reservation (6) stays.
    a.reset_spend(std::slice::from_ref(&id))
        .await
        .expect("reset_spend");
    assert_eq!(live_spend(&a, &id).await, 6.0);
    let r = a
        .reserve(&[entity(&id, Some(100.0), 0.0)], 95.0)
        .await
        .expect("reserve");
    assert_eq!(r.refused, Some((0, 6.0)));
    assert!(
        a.reserve(&[entity(&id, Some(100.0), 0.0)], 94.0)
            .await
            .expect("reserve")
            .granted
    );
}

#[tokio::test]
async fn all_entities_or_none() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let a = connect(&prefix).await;
    let key = entity("key:k", Some(100.0), 0.0);
    let team = entity("team:t", Some(10.0), 2.0);
    let user = entity("user:free", None, 1000.0);

    let r = a
        .reserve(&[key.clone(), user.clone(), team.clone()], 9.0)
        .await
        .expect("reserve");
    assert_eq!(
        (r.granted, r.refused),
        (false, Some((2, 2.0))),
        "the team says no"
    );
    // Nothing was written for anyone.
    assert_eq!(a.count_test_keys("budget:*").await, 0);

    let r = a
        .reserve(&[key.clone(), user.clone(), team], 8.0)
        .await
        .expect("reserve");
    assert!(r.granted);
    // Entities without a limit are tracked too (seeded from their DB spend).
    assert_eq!(
        a.test_get("budget:user:free:spend").await.as_deref(),
        Some("1000")
    );
    assert_eq!(
        a.test_get("budget:key:k:reserved").await.as_deref(),
        Some("8")
    );

    let ids = [
        "key:k".to_owned(),
        "user:free".to_owned(),
        "team:t".to_owned(),
    ];
    a.settle(&ids, 8.0, 0.5).await.expect("settle");
    assert_eq!(live_spend(&a, "team:t").await, 2.5);
    assert_eq!(live_spend(&a, "user:free").await, 1000.5);
    assert_eq!(live_spend(&a, "key:k").await, 0.5);
    let ids_and_unknown = ["team:t".to_owned(), "key:never".to_owned()];
    assert_eq!(
        a.spend(&ids_and_unknown).await.expect("spend"),
        vec![Some(2.5), None]
    );

    // Settling an entity never seen does not invent a spend from one cost.
    a.settle(&["key:unknown".to_owned()], 1.0, 1.0)
        .await
        .expect("settle");
    assert_eq!(a.test_get("budget:key:unknown:spend").await, None);
    assert_eq!(a.test_get("budget:key:unknown:reserved").await, None);

    // Bad numbers are refused before reaching Redis.
    assert!(a.reserve(&[key], f64::NAN).await.is_err());
}

#[tokio::test]
async fn a_chunk_is_capped_by_a_sixteenth_of_the_room_but_never_below_the_minimum() {
    let prefix = random_prefix();
    let _cleanup = Cleanup::new(&prefix);
    let a = connect(&prefix).await;
    let key = [entity("key:chunky", Some(100.0), 20.0)];
    let close = |got: f64, want: f64| assert!((got - want).abs() < 1e-9, "{got} != {want}");
    // Room 80: a sixteenth is 5, below the 64 wanted.
    let r = a.reserve_upto(&key, 1.0, 64.0).await.expect("reserve");
    assert!(r.granted);
    close(r.amount, 5.0);
    // Room 75.
    let r = a.reserve_upto(&key, 1.0, 64.0).await.expect("reserve");
    close(r.amount, 75.0 / 16.0);
    // A small want is granted whole.
    let r = a.reserve_upto(&key, 1.0, 2.0).await.expect("reserve");
    close(r.amount, 2.0);
    // The minimum beats a sixteenth of the room when it is larger.
    let room = 80.0 - 5.0 - 75.0 / 16.0 - 2.0;
    let r = a.reserve_upto(&key, 40.0, 64.0).await.expect("reserve");
    close(r.amount, 40.0);
    // No room for the minimum: refused, nothing reserved.
    let r = a
        .reserve_upto(&key, room - 40.0 + 0.5, 64.0)
        .await
        .expect("reserve");
    assert!(!r.granted);
    assert_eq!(r.amount, 0.0);
    // Giving back unused parts makes room again.
    a.settle(&["key:chunky".to_owned()], 30.0, 0.0)
        .await
        .expect("give back");
    close(
        live_spend(&a, "key:chunky").await,
        100.0 - (room - 40.0) - 30.0,
    );
}
