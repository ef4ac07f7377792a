//! The at-most-once contracts of `keygate::oauth` — `redeem_code`, `rotate_refresh`, a pushed
//! request's `consume` — and of `keygate::dpop::claim` (a proof's `jti`), raced on the in-memory
//! table and on DynamoDB Local (over HTTP, with the real SDK).

use std::sync::Arc;

use keygate::crypto::{Pepper, Peppers};
use keygate::ids::AccountId;
use keygate::oauth::{self, Binding, CodeGrant, RefreshRecord, TokenResponse, REFRESH_GRACE};
use keygate::principal::SubjectType;
use keygate::store::{MemoryTable, Table};
use keygate::testing::Stack;

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
        family: format!("f{}", keygate::tokens::new_jti()),
    }
}

fn client_id() -> String {
    keygate::ids::OAuthClientId::generate().to_string()
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
        keygate::clients::is_revoked(&*table, &client, &g.family, NOW)
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
        family: format!("f{}", keygate::tokens::new_jti()),
        expires_at: NOW + 3600,
        used_at: None,
        answer: None,
        jkt: None,
    }
}

fn answer_for(next: &keygate::crypto::Secret) -> TokenResponse {
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
    let e = oauth::rotate_refresh(&*table, &peppers, token.expose(), &other, NOW, |_, n| {
        Ok((answer_for(n), "Basic".into()))
    })
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
            oauth::rotate_refresh(&*table, &peppers, token.expose(), &client, NOW, |_, n| {
                Ok((answer_for(n), "Basic".into()))
            })
            .await
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
    let e = oauth::rotate_refresh(&*table, &peppers, token.expose(), &client, later, |_, n| {
        Ok((answer_for(n), "Basic".into()))
    })
    .await
    .unwrap_err();
    assert_eq!(e.reason, "invalid_grant");
    assert!(
        keygate::clients::is_revoked(&*table, &client, &rec.family, later)
            .await
            .unwrap()
    );
    let e = oauth::rotate_refresh(&*table, &peppers, &successor, &client, later, |_, n| {
        Ok((answer_for(n), "Basic".into()))
    })
    .await
    .unwrap_err();
    assert_eq!(e.message, "the refresh token was revoked");
}

async fn pushed_requests_are_consumed_at_most_once(table: Arc<dyn Table>) {
    let peppers = Peppers::new(vec![Pepper::generate("p1")]);
    let client = client_id();
    let uri = oauth::par::push(&*table, &peppers, &client, &"params", NOW)
        .await
        .unwrap();
    let found: oauth::par::Found<String> = oauth::par::find(&*table, &peppers, &uri, &client, NOW)
        .await
        .unwrap()
        .expect("pushed");
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let (table, found) = (table.clone(), found.clone());
        set.spawn(async move { oauth::par::consume(&*table, &found, NOW).await.unwrap() });
    }
    let mut won = 0;
    while let Some(r) = set.join_next().await {
        won += usize::from(r.unwrap());
    }
    assert_eq!(won, 1, "exactly one consumption wins");
    let gone: Option<oauth::par::Found<String>> =
        oauth::par::find(&*table, &peppers, &uri, &client, NOW)
            .await
            .unwrap();
    assert!(gone.is_none(), "consumed means gone");
}

async fn dpop_proofs_are_claimed_at_most_once(table: Arc<dyn Table>) {
    let proof = keygate::dpop::Proof {
        jkt: format!("k{}", keygate::tokens::new_jti()),
        jti: keygate::tokens::new_jti(),
        iat: NOW,
    };
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let (table, proof) = (table.clone(), proof.clone());
        set.spawn(async move { keygate::dpop::claim(&*table, &proof, NOW).await.unwrap() });
    }
    let mut won = 0;
    while let Some(r) = set.join_next().await {
        won += usize::from(r.unwrap().is_ok());
    }
    assert_eq!(won, 1, "exactly one use of a jti wins");
    // The same jti under another key is another proof.
    let other = keygate::dpop::Proof {
        jkt: format!("k{}", keygate::tokens::new_jti()),
        ..proof
    };
    assert!(keygate::dpop::claim(&*table, &other, NOW)
        .await
        .unwrap()
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory() {
    let table: Arc<dyn Table> = Arc::new(MemoryTable::new());
    codes_are_redeemed_at_most_once(table.clone()).await;
    pushed_requests_are_consumed_at_most_once(table.clone()).await;
    dpop_proofs_are_claimed_at_most_once(table.clone()).await;
    refresh_tokens_rotate_at_most_once(table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_dynamodb_local() {
    let table: Arc<dyn Table> = Arc::new(Stack::get().table().await);
    codes_are_redeemed_at_most_once(table.clone()).await;
    pushed_requests_are_consumed_at_most_once(table.clone()).await;
    dpop_proofs_are_claimed_at_most_once(table.clone()).await;
    refresh_tokens_rotate_at_most_once(table).await;
}
