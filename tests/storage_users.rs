//! Batched user writes (the token's name and role, recorded on connect) from several
//! nodes at once, on PostgreSQL: the rows are locked in one order, so no two batches
//! deadlock (a deadlock refused connects with `internal_error` in a 3-node connect burst).

mod common;

use classchat::domain::Role;
use classchat::storage::Store;

#[tokio::test]
async fn concurrent_batches_of_the_same_users_in_different_orders_never_deadlock() {
    let store = Store::connect(&common::fresh_pg_database().await, 16)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let users: Vec<(String, Option<String>, Role)> = (0..300)
        .map(|i| (format!("u{i:03}"), Some(format!("User {i}")), Role::Student))
        .collect();
    // Eight writers, as eight nodes' batchers would be, each sending the same users in
    // its own order, ten times.
    let writers = (0..8).map(|w| {
        let (store, mut batch) = (store.clone(), users.clone());
        tokio::spawn(async move {
            for round in 0..10 {
                let n = batch.len();
                batch.rotate_left((w * 37 + round * 11) % n);
                if (w + round) % 2 == 1 {
                    batch.reverse();
                }
                store.upsert_users(&batch, 1).await?;
            }
            Ok::<_, sqlx::Error>(())
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("writer").expect("no deadlock");
    }
    let u = store.get_user("u042").await.expect("read").expect("row");
    assert_eq!(u.name.as_deref(), Some("User 42"));
}
