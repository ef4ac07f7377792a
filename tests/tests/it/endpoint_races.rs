//! A manager's change of a callback endpoint is made even when a failed delivery writes the
//! endpoint's health between the change's read and its write (docs/EVENTS.md, "Managers' changes
//! and deliveries"); only a change that keeps losing is a `409`. On DynamoDB Local the lost race
//! is DynamoDB's own conditional-check failure inside the transaction, mapped and retried.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

use keygate_core::testing::hooked::{DeliveryRaces, Hooked};
use keygate_e2e::{Backend, Server};
use serde_json::json;

async fn endpoint_changes_survive_a_delivery_writing_meanwhile(backend: Backend) {
    let races = Arc::new(AtomicU32::new(0));
    let hook = DeliveryRaces(races.clone());
    let s = Server::start_with(backend, move |services, _| {
        services.table = Arc::new(Hooked {
            inner: services.table.clone(),
            hook,
        });
    })
    .await;
    let arm = |n: u32| races.store(n, SeqCst);
    let left = || races.load(SeqCst);
    let (_, _, key) = s.create_account("Races", "owner@races.test").await;
    let key = Some(key.as_str());
    let callback = json!({"url": "https://hooks.example/cb", "events": ["PACKAGE_CREATE"]});
    let (status, got) = s
        .api("PUT", "/api/callback", key, Some(callback.clone()))
        .await;
    assert_eq!(status, 200, "{got}");
    let (status, extra) = s
        .api(
            "POST",
            "/api/callback/endpoints",
            key,
            Some(callback.clone()),
        )
        .await;
    assert_eq!(status, 201, "{extra}");
    let extra = format!(
        "/api/callback/endpoints/{}",
        extra["id"].as_str().expect("the endpoint's id")
    );

    // Each change loses one race to a delivery, and is made all the same.
    arm(1);
    let changed = json!({"url": "https://hooks.example/v2", "events": ["PACKAGE_CREATE"]});
    let (status, got) = s.api("PUT", "/api/callback", key, Some(changed)).await;
    assert_eq!((status, left()), (200, 0), "{got}");
    arm(1);
    let (status, got) = s
        .api("POST", "/api/callback/secret/rotate", key, None)
        .await;
    assert_eq!((status, left()), (200, 0), "{got}");
    arm(1);
    let (status, got) = s.api("PUT", &extra, key, Some(callback)).await;
    assert_eq!((status, left()), (200, 0), "{got}");

    // A change that loses every try is refused, and nothing of it is stored.
    arm(3);
    let (status, got) = s.api("DELETE", "/api/callback", key, None).await;
    assert_eq!(
        (status, got["reason"].as_str()),
        (409, Some("concurrent_change")),
        "{got}"
    );
    let (status, got) = s.api("GET", "/api/callback", key, None).await;
    assert_eq!(
        (status, &got["url"]),
        (200, &json!("https://hooks.example/v2"))
    );

    // Deleting, losing one race: the endpoint goes.
    arm(1);
    assert_eq!(s.api("DELETE", &extra, key, None).await.0, 204);
    assert_eq!(left(), 0);
    assert_eq!(s.api("GET", &extra, key, None).await.0, 404);
}

keygate_e2e::on_both_backends!(endpoint_changes_survive_a_delivery_writing_meanwhile);
