//! The at-most-once contracts of `keygate_core::oauth` — `redeem_code`, `rotate_refresh`, a pushed
//! request's `consume` — of `keygate_core::oauth::dpop::claim` (a proof's `jti`) and of
//! `keygate_core::identity::assertion::claim` (a client assertion's `jti`), raced on the in-memory
//! table and on DynamoDB Local (over HTTP, with the real SDK).

// Test and measurement code: a failed expectation is a panic with the reason.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use keygate_aws::testing::Stack;
use keygate_core::identity::principal::SubjectType;
use keygate_core::kernel::crypto::{Pepper, Peppers};
use keygate_core::kernel::ids::AccountId;
use keygate_core::oauth::{self, Binding, CodeGrant, RefreshRecord, TokenResponse, REFRESH_GRACE};
use keygate_core::ports::store::{MemoryTable, Table};

const NOW: i64 = 1_800_000_000;
const RACERS: usize = 16;

fn grant(client: &str) -> CodeGrant {
    CodeGrant {
        client_id: client.to_owned(),
        account_id: AccountId::generate(),
        user_id: "usr_x".into(),
        sub_type: SubjectType::Owner,
        redirect_uri: "https://app.test/cb".into(),
        redirect_uri_given: true,
        code_challenge: None,
        scope: "Basic".into(),
        family: format!("f{}", keygate_core::oauth::tokens::new_jti()),
        dpop_jkt: None,
    }
}

fn client_id() -> String {
    keygate_core::kernel::ids::OAuthClientId::generate().to_string()
}

async fn codes_are_redeemed_at_most_once(table: Arc<dyn Table>) {
    let peppers = Arc::new(Peppers::new(vec![Pepper::generate("p1")]));
    let client = client_id();
    let g = grant(&client);
    let code = oauth::issue_code(&*table, &peppers, &g, NOW).await.unwrap();

    // A wrong caller burns nothing.
    let wrong = client_id();
    let e = oauth::redeem_code(
        &*table,
        &peppers,
        code.expose(),
        &Binding {
            client_id: &wrong,
            redirect_uri: Some("https://app.test/cb"),
            code_verifier: None,
            jkt: None,
        },
        NOW,
    )
    .await
    .unwrap_err();
    assert_eq!(e.reason, "invalid_grant");

    let mut set = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let (table, peppers, code, client) =
            (table.clone(), peppers.clone(), code.clone(), client.clone());
        set.spawn(async move {
            let b = Binding {
                client_id: &client,
                redirect_uri: Some("https://app.test/cb"),
                code_verifier: None,
                jkt: None,
            };
            oauth::redeem_code(&*table, &peppers, code.expose(), &b, NOW).await
        });
    }
    let mut won = Vec::new();
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Ok(g) => won.push(g),
            Err(e) => assert_eq!(e.reason, "invalid_grant", "{e:?}"),
        }
    }
    assert_eq!(won, vec![g.clone()], "exactly one redemption wins");
    // The losers were the same client: the code was used twice, so its grant is revoked.
    assert!(
        keygate_core::clients::is_revoked(&*table, &client, &g.family, NOW)
            .await
            .unwrap()
    );
}

/// A used code revokes its grant only when presented again with all its bindings: a thief with
/// the bare code (from a redirect URL or a log) and a public client's id cannot revoke the
/// owner's grant — not without the PKCE verifier, not without the DPoP key.
async fn reused_codes_revoke_only_with_their_bindings(table: Arc<dyn Table>) {
    let peppers = Peppers::new(vec![Pepper::generate("p1")]);
    let client: &'static str = client_id().leak();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let g = CodeGrant {
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        dpop_jkt: Some("key-a".into()),
        ..grant(client)
    };
    let code = oauth::issue_code(&*table, &peppers, &g, NOW).await.unwrap();
    let owner = Binding {
        client_id: client,
        redirect_uri: Some("https://app.test/cb"),
        code_verifier: Some(verifier),
        jkt: Some("key-a"),
    };
    let redeem = |b: Binding<'static>| {
        let (table, peppers, code) = (table.clone(), peppers.clone(), code.clone());
        async move { oauth::redeem_code(&*table, &peppers, code.expose(), &b, NOW).await }
    };
    assert_eq!(redeem(owner).await.unwrap(), g);
    for thief in [
        Binding {
            code_verifier: None,
            ..owner
        },
        Binding { jkt: None, ..owner },
        Binding {
            jkt: Some("key-b"),
            ..owner
        },
    ] {
        assert_eq!(redeem(thief).await.unwrap_err().reason, "invalid_grant");
        assert!(
            !keygate_core::clients::is_revoked(&*table, client, &g.family, NOW)
                .await
                .unwrap(),
            "{thief:?} revoked the owner's grant"
        );
    }
    // The client itself, presenting it again with its bindings: intercepted, so revoked.
    assert_eq!(redeem(owner).await.unwrap_err().reason, "invalid_grant");
    assert!(
        keygate_core::clients::is_revoked(&*table, client, &g.family, NOW)
            .await
            .unwrap()
    );
}

fn record(client: &str) -> RefreshRecord {
    RefreshRecord {
        client_id: client.to_owned(),
        account_id: AccountId::generate(),
        sub: "usr_x".into(),
        sub_type: SubjectType::Owner,
        scope: "Basic".into(),
        family: format!("f{}", keygate_core::oauth::tokens::new_jti()),
        expires_at: NOW + 3600,
        used_at: None,
        answer: None,
        jkt: None,
    }
}

/// A confidential client's presentation of `token`, without a DPoP proof.
fn presented<'a>(token: &'a str, client: &'a str) -> oauth::Presented<'a> {
    oauth::Presented {
        token,
        client_id: client,
        jkt: None,
        public: false,
    }
}

fn answer_for(next: &keygate_core::kernel::crypto::Secret) -> TokenResponse {
    TokenResponse {
        access_token: format!("access-for-{}", &next.expose()[..8]),
        token_type: "Bearer".into(),
        expires_in: 300,
        scope: "Basic".into(),
        refresh_token: Some(next.expose().to_owned()),
    }
}

async fn refresh_tokens_rotate_at_most_once(table: Arc<dyn Table>) {
    let peppers = Arc::new(Peppers::new(vec![Pepper::generate("p1")]));
    let client = client_id();
    let rec = record(&client);
    let token = oauth::issue_refresh(&*table, &peppers, &rec).await.unwrap();

    // Another client's attempt consumes nothing.
    let other = client_id();
    let e = rotate_to_test_answer(&*table, &peppers, presented(token.expose(), &other), NOW)
        .await
        .unwrap_err();
    assert_eq!(e.reason, "invalid_grant");

    let mut set = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let (table, peppers, token, client) = (
            table.clone(),
            peppers.clone(),
            token.clone(),
            client.clone(),
        );
        set.spawn(async move {
            let p = presented(token.expose(), &client);
            rotate_to_test_answer(&*table, &peppers, p, NOW).await
        });
    }
    let mut answers = Vec::new();
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Ok(a) => answers.push(a),
            Err(e) => assert_eq!(e.reason, "invalid_grant", "{e:?}"),
        }
    }
    assert!(!answers.is_empty(), "one rotation commits");
    answers.dedup();
    assert_eq!(
        answers.len(),
        1,
        "every winner got the one committed answer"
    );
    let successor = answers[0].refresh_token.clone().unwrap();
    assert!(oauth::find_refresh(&*table, &peppers, &successor, NOW)
        .await
        .unwrap()
        .is_some());

    // After the grace window, the old token again: the whole family is revoked.
    let later = NOW + REFRESH_GRACE + 1;
    let e = rotate_to_test_answer(&*table, &peppers, presented(token.expose(), &client), later)
        .await
        .unwrap_err();
    assert_eq!(e.reason, "invalid_grant");
    assert!(
        keygate_core::clients::is_revoked(&*table, &client, &rec.family, later)
            .await
            .unwrap()
    );
    let e = rotate_to_test_answer(&*table, &peppers, presented(&successor, &client), later)
        .await
        .unwrap_err();
    assert_eq!(e.message, "the refresh token was revoked");
}

async fn rotate_to_test_answer(
    table: &dyn Table,
    peppers: &Peppers,
    presented: oauth::Presented<'_>,
    at: i64,
) -> keygate_core::ApiResult<TokenResponse> {
    oauth::rotate_refresh(table, peppers, presented, at, |_, n| {
        Ok((answer_for(n), "Basic".into()))
    })
    .await
}

/// RFC 9449 §5 on the rotation itself: a public client's DPoP-bound refresh token is refused
/// without a proof of its key *before* its reuse is looked at — a thief replaying a rotated one
/// neither gets the retry's answer inside the grace window nor revokes the owner's family after
/// it — and an unbound one refreshed with a proof hands on a successor bound to that key.
async fn bound_refresh_tokens_need_their_key(table: Arc<dyn Table>) {
    let peppers = Peppers::new(vec![Pepper::generate("p1")]);
    let client = client_id();
    let public = |token, jkt| oauth::Presented {
        jkt,
        public: true,
        ..presented(token, &client)
    };
    let rotate = |p, at| rotate_to_test_answer(&*table, &peppers, p, at);
    let rec = record(&client);
    let unbound = oauth::issue_refresh(&*table, &peppers, &rec).await.unwrap();

    // Unbound, refreshed with a proof of key A: the successor is bound to A.
    let first = rotate(public(unbound.expose(), Some("key-a")), NOW)
        .await
        .unwrap();
    let bound = first.refresh_token.unwrap();
    let found = oauth::find_refresh(&*table, &peppers, &bound, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.record.jkt.as_deref(), Some("key-a"));

    // Stolen and rotated by its owner (with A)…
    let second = rotate(public(&bound, Some("key-a")), NOW).await.unwrap();
    let successor = second.refresh_token.unwrap();
    assert_eq!(
        oauth::find_refresh(&*table, &peppers, &successor, NOW)
            .await
            .unwrap()
            .unwrap()
            .record
            .jkt
            .as_deref(),
        Some("key-a"),
        "successors keep the binding"
    );
    // …then replayed by the thief, without a proof or with its own key: inside the grace
    // window no retry's answer, after it no revocation.
    for at in [NOW, NOW + REFRESH_GRACE + 1] {
        for jkt in [None, Some("key-b")] {
            let e = rotate(public(&bound, jkt), at).await.unwrap_err();
            assert_eq!(e.reason, "invalid_dpop_proof", "{e:?}");
        }
    }
    assert!(
        !keygate_core::clients::is_revoked(&*table, &client, &rec.family, NOW + REFRESH_GRACE + 1)
            .await
            .unwrap(),
        "a replay without the key revokes nothing"
    );
    // The owner's successor still works, with A only.
    let e = rotate(public(&successor, None), NOW).await.unwrap_err();
    assert_eq!(e.reason, "invalid_dpop_proof");
    assert!(rotate(public(&successor, Some("key-a")), NOW).await.is_ok());
    // A confidential client's proof binds nothing (its client authentication does).
    let conf = oauth::issue_refresh(&*table, &peppers, &rec).await.unwrap();
    let next = rotate(
        oauth::Presented {
            jkt: Some("key-a"),
            ..presented(conf.expose(), &client)
        },
        NOW,
    )
    .await
    .unwrap()
    .refresh_token
    .unwrap();
    let found = oauth::find_refresh(&*table, &peppers, &next, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.record.jkt, None);
}

async fn pushed_requests_are_consumed_at_most_once(table: Arc<dyn Table>) {
    let peppers = Peppers::new(vec![Pepper::generate("p1")]);
    let client = client_id();
    let uri = oauth::par::push(&*table, &peppers, &client, &"params", NOW)
        .await
        .unwrap();
    let fresh: oauth::par::Found<String> = oauth::par::find(&*table, &peppers, &uri, &client, NOW)
        .await
        .unwrap()
        .expect("pushed");
    // Held for a consent page — by any number of racing page loads, each told it is held — it
    // outlives its minute; still used at most once.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let (table, fresh) = (table.clone(), fresh.clone());
        set.spawn(async move { oauth::par::hold(&*table, &fresh, NOW + 600, NOW).await });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap().unwrap(), "every racing page sees it held");
    }
    let later = NOW + oauth::par::PAR_TTL + 10;
    let found: oauth::par::Found<String> =
        oauth::par::find(&*table, &peppers, &uri, &client, later)
            .await
            .unwrap()
            .expect("held");
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let (table, found) = (table.clone(), found.clone());
        set.spawn(async move { oauth::par::consume(&*table, &found, later).await.unwrap() });
    }
    let mut won = 0;
    while let Some(r) = set.join_next().await {
        won += usize::from(r.unwrap());
    }
    assert_eq!(won, 1, "exactly one consumption wins");
    assert!(
        !oauth::par::hold(&*table, &fresh, NOW + 900, NOW)
            .await
            .unwrap(),
        "nothing revives a consumed request"
    );
    let gone: Option<oauth::par::Found<String>> =
        oauth::par::find(&*table, &peppers, &uri, &client, later)
            .await
            .unwrap();
    assert!(gone.is_none(), "consumed means gone");
}

async fn dpop_proofs_are_claimed_at_most_once(table: Arc<dyn Table>) {
    let proof = keygate_core::oauth::dpop::Proof {
        jkt: format!("k{}", keygate_core::oauth::tokens::new_jti()),
        jti: keygate_core::oauth::tokens::new_jti(),
        iat: NOW,
        nonce: None,
    };
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let (table, proof) = (table.clone(), proof.clone());
        set.spawn(async move {
            keygate_core::oauth::dpop::claim(&*table, &proof, NOW)
                .await
                .unwrap()
        });
    }
    let mut won = 0;
    while let Some(r) = set.join_next().await {
        won += usize::from(r.unwrap() == keygate_core::oauth::dpop::Claim::Claimed);
    }
    assert_eq!(won, 1, "exactly one use of a jti wins");
    // The same jti under another key is another proof.
    let other = keygate_core::oauth::dpop::Proof {
        jkt: format!("k{}", keygate_core::oauth::tokens::new_jti()),
        ..proof
    };
    assert_eq!(
        keygate_core::oauth::dpop::claim(&*table, &other, NOW)
            .await
            .unwrap(),
        keygate_core::oauth::dpop::Claim::Claimed
    );
}

async fn client_assertions_are_claimed_at_most_once(table: Arc<dyn Table>) {
    use keygate_core::identity::assertion::{claim, Verified};
    let verified = Verified {
        client_id: format!("oc_{}", keygate_core::oauth::tokens::new_jti()),
        jti: keygate_core::oauth::tokens::new_jti(),
        exp: NOW + 60,
    };
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let (table, verified) = (table.clone(), verified.clone());
        set.spawn(async move { claim(&*table, &verified, NOW).await.unwrap() });
    }
    let mut won = 0;
    while let Some(r) = set.join_next().await {
        won += usize::from(r.unwrap());
    }
    assert_eq!(won, 1, "exactly one use of an assertion's jti wins");
    // Until the assertion expires, a replay is refused; the same jti of another client is not.
    assert!(!claim(&*table, &verified, NOW + 59).await.unwrap());
    let other = Verified {
        client_id: format!("oc_{}", keygate_core::oauth::tokens::new_jti()),
        ..verified
    };
    assert!(claim(&*table, &other, NOW).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory() {
    let table: Arc<dyn Table> = Arc::new(MemoryTable::new());
    codes_are_redeemed_at_most_once(table.clone()).await;
    reused_codes_revoke_only_with_their_bindings(table.clone()).await;
    pushed_requests_are_consumed_at_most_once(table.clone()).await;
    dpop_proofs_are_claimed_at_most_once(table.clone()).await;
    client_assertions_are_claimed_at_most_once(table.clone()).await;
    bound_refresh_tokens_need_their_key(table.clone()).await;
    refresh_tokens_rotate_at_most_once(table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_dynamodb_local() {
    let table: Arc<dyn Table> = Arc::new(Stack::get().table().await);
    codes_are_redeemed_at_most_once(table.clone()).await;
    reused_codes_revoke_only_with_their_bindings(table.clone()).await;
    pushed_requests_are_consumed_at_most_once(table.clone()).await;
    dpop_proofs_are_claimed_at_most_once(table.clone()).await;
    client_assertions_are_claimed_at_most_once(table.clone()).await;
    bound_refresh_tokens_need_their_key(table.clone()).await;
    refresh_tokens_rotate_at_most_once(table).await;
}
