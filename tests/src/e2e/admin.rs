//! The management API (LiteLLM's `/key/*`, `/user/*`, `/team/*`, `/spend/logs`) against a real
//! Postgres: every answer is checked, and so is what landed in LiteLLM's tables.

use http::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::pg::TestDb;
use crate::harness::{Gateway, Resp, get, post, request};

const MASTER: &str = "sk-master";
const CONFIG: &str = "model_list:
  - model_name: m
    litellm_params:
      model: openai/m
      mock_response: hi
general_settings:
  master_key: sk-master
";
const NOT_ADMIN: &str =
    "Only proxy admin can be used to generate, delete, update info for new keys/users/teams";
const DAY: f64 = 86_400.0;

async fn start() -> (TestDb, Gateway) {
    let db = TestDb::create().await;
    let gw = Gateway::builder(CONFIG)
        .env("DATABASE_URL", db.url.clone())
        .start();
    (db, gw)
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn admin_post(gw: &Gateway, path: &str, body: Value) -> Resp {
    post_as(gw, MASTER, path, body).await
}

async fn post_as(gw: &Gateway, key: &str, path: &str, body: Value) -> Resp {
    let auth = bearer(key);
    post(
        &gw.url(path),
        &[("authorization", auth.as_str())],
        body.to_string(),
    )
    .await
}

async fn admin_get(gw: &Gateway, path: &str) -> Resp {
    get_as(gw, MASTER, path).await
}

async fn get_as(gw: &Gateway, key: &str, path: &str) -> Resp {
    let auth = bearer(key);
    get(&gw.url(path), &[("authorization", auth.as_str())]).await
}

/// Asserts 200 and returns the JSON body.
fn ok(resp: &Resp) -> Value {
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

/// Asserts the status and the error's `param`.
fn error(resp: &Resp, status: u16, param: &str) -> Value {
    assert_eq!(resp.status, status, "{}", resp.text());
    let body = resp.json();
    assert_eq!(body["error"]["param"], param, "{}", resp.text());
    assert_eq!(body["error"]["code"], status.to_string());
    body
}

async fn chat(gw: &Gateway, key: &str) -> Resp {
    post_as(
        gw,
        key,
        "/v1/chat/completions",
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
}

fn sha(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Seconds from now until the timestamp `column` of the key with this hash.
async fn seconds_until(db: &TestDb, column: &str, token: &str) -> f64 {
    let sql = format!(
        r#"SELECT extract(epoch FROM {column} - (now() AT TIME ZONE 'UTC'))::float8
           FROM "LiteLLM_VerificationToken" WHERE token = $1"#
    );
    db.client()
        .await
        .query_one(&sql, &[&token])
        .await
        .unwrap()
        .get(0)
}

async fn count(
    db: &TestDb,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> i64 {
    db.client()
        .await
        .query_one(sql, params)
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_through_its_whole_life() {
    let (db, gw) = start().await;

    // Generate: the stored row is LiteLLM's.
    let made = ok(&admin_post(
        &gw,
        "/key/generate",
        json!({"key_alias": "life", "duration": "30d", "budget_duration": "1d", "max_budget": 5.5,
               "models": ["m"], "metadata": {"team": "core"}, "tpm_limit": 1000}),
    )
    .await);
    let key = made["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk-") && key.len() == 25, "{key}");
    let token = sha(&key);
    assert_eq!(made["token_id"], token.as_str());
    assert_eq!(made["token"], token.as_str());
    assert_eq!(made["key_name"], format!("sk-...{}", &key[key.len() - 4..]));
    assert_eq!(
        (made["key_alias"].as_str(), made["max_budget"].as_f64()),
        (Some("life"), Some(5.5))
    );
    assert_eq!(made["created_by"], "default_user_id");
    assert!(
        made["expires"].as_str().unwrap().ends_with("+00:00"),
        "{made}"
    );
    let row = db
        .client()
        .await
        .query_one(
            r#"SELECT key_name, key_alias, models, max_budget, budget_duration, tpm_limit, metadata, created_by
               FROM "LiteLLM_VerificationToken" WHERE token = $1"#,
            &[&token],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        format!("sk-...{}", &key[key.len() - 4..])
    );
    assert_eq!(row.get::<_, String>(1), "life");
    assert_eq!(row.get::<_, Vec<String>>(2), ["m"]);
    assert_eq!(row.get::<_, Option<f64>>(3), Some(5.5));
    assert_eq!(row.get::<_, Option<String>>(4).as_deref(), Some("1d"));
    assert_eq!(row.get::<_, Option<i64>>(5), Some(1000));
    assert_eq!(row.get::<_, Value>(6), json!({"team": "core"}));
    assert_eq!(
        row.get::<_, Option<String>>(7).as_deref(),
        Some("default_user_id")
    );
    let expires_in = seconds_until(&db, "expires", &token).await;
    assert!(
        (30.0 * DAY - 120.0..=30.0 * DAY).contains(&expires_in),
        "expires in {expires_in}s"
    );
    let reset_in = seconds_until(&db, "budget_reset_at", &token).await;
    assert!(
        (DAY - 120.0..=DAY).contains(&reset_in),
        "budget resets in {reset_in}s"
    );
    assert_eq!(chat(&gw, &key).await.status, 200);

    // Info: by key, by hash, and the caller's own key.
    for (asked, path) in [
        (key.clone(), format!("/key/info?key={key}")),
        (token.clone(), format!("/key/info?key={token}")),
    ] {
        let info = ok(&admin_get(&gw, &path).await);
        assert_eq!(info["key"], asked.as_str());
        assert_eq!(info["info"]["key_alias"], "life");
        assert!(
            info["info"].get("token").is_none(),
            "the hash is not returned: {info}"
        );
    }
    let own = ok(&get_as(&gw, &key, "/key/info").await);
    assert_eq!(
        (own["key"].as_str(), own["info"]["key_alias"].as_str()),
        (Some(key.as_str()), Some("life"))
    );

    // Update: fields change, `duration` restarts the clock, the response is the row.
    let updated = ok(&admin_post(
        &gw,
        "/key/update",
        json!({"key": key, "key_alias": "life-2", "max_budget": 10, "duration": "1h"}),
    )
    .await);
    assert_eq!(updated["key"], key.as_str());
    assert_eq!(
        (
            updated["key_alias"].as_str(),
            updated["max_budget"].as_f64()
        ),
        (Some("life-2"), Some(10.0))
    );
    assert_eq!(updated["models"], json!(["m"]), "fields not sent are kept");
    let expires_in = seconds_until(&db, "expires", &token).await;
    assert!(
        (3600.0 - 120.0..=3600.0).contains(&expires_in),
        "expires in {expires_in}s"
    );

    // Block and unblock.
    let blocked = ok(&admin_post(&gw, "/key/block", json!({"key": key})).await);
    assert_eq!(blocked["blocked"], true);
    let refused = chat(&gw, &key).await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert!(
        refused.error_message().contains("Key is blocked"),
        "{}",
        refused.text()
    );
    assert_eq!(
        ok(&admin_post(&gw, "/key/unblock", json!({"key": token})).await)["blocked"],
        false
    );
    assert_eq!(chat(&gw, &key).await.status, 200);

    // List.
    let listed = ok(&admin_get(&gw, "/key/list?key_alias=life-2").await);
    assert_eq!(listed["keys"], json!([token]));
    assert_eq!(
        (
            listed["total_count"].as_i64(),
            listed["current_page"].as_i64(),
            listed["total_pages"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let full = ok(&admin_get(&gw, "/key/list?return_full_object=true&size=100").await);
    assert!(
        full["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["key_alias"] == "life-2"),
        "{full}"
    );

    // Regenerate: the same row under a new key; the old key stops working.
    let before = count(
        &db,
        r#"SELECT count(*) FROM "LiteLLM_VerificationToken""#,
        &[],
    )
    .await;
    let regenerated = ok(&admin_post(
        &gw,
        &format!("/key/{key}/regenerate"),
        json!({"max_budget": 20}),
    )
    .await);
    let new_key = regenerated["key"].as_str().unwrap().to_string();
    assert_ne!(new_key, key);
    assert_eq!(regenerated["token_id"], sha(&new_key).as_str());
    assert_eq!(
        (
            regenerated["key_alias"].as_str(),
            regenerated["max_budget"].as_f64()
        ),
        (Some("life-2"), Some(20.0))
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "LiteLLM_VerificationToken""#,
            &[]
        )
        .await,
        before
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE token = $1"#,
            &[&token]
        )
        .await,
        0
    );
    assert_eq!(chat(&gw, &key).await.status, 401);
    assert_eq!(chat(&gw, &new_key).await.status, 200);
    let again = ok(&admin_post(
        &gw,
        "/key/regenerate",
        json!({"key": new_key, "new_key": "sk-chosen-by-caller"}),
    )
    .await);
    assert_eq!(again["key"], "sk-chosen-by-caller");
    assert_eq!(chat(&gw, "sk-chosen-by-caller").await.status, 200);

    // Delete: gone (and archived, as newer LiteLLM keeps deleted keys).
    let deleted =
        ok(&admin_post(&gw, "/key/delete", json!({"keys": ["sk-chosen-by-caller"]})).await);
    assert_eq!(deleted, json!({"deleted_keys": ["sk-chosen-by-caller"]}));
    assert_eq!(chat(&gw, "sk-chosen-by-caller").await.status, 401);
    let archived = count(
        &db,
        r#"SELECT count(*) FROM "LiteLLM_DeletedVerificationToken" WHERE token = $1 AND key_alias = 'life-2' AND deleted_by = 'default_user_id'"#,
        &[&sha("sk-chosen-by-caller")],
    )
    .await;
    assert_eq!(archived, 1);
    error(
        &admin_post(&gw, "/key/delete", json!({"keys": ["sk-chosen-by-caller"]})).await,
        404,
        "keys",
    );

    // A caller-chosen key, deleted by alias.
    let chosen = ok(&admin_post(
        &gw,
        "/key/generate",
        json!({"key": "sk-my-own-key", "key_alias": "own"}),
    )
    .await);
    assert_eq!(
        (chosen["key"].as_str(), chosen["token_id"].as_str()),
        (Some("sk-my-own-key"), Some(sha("sk-my-own-key").as_str()))
    );
    error(
        &admin_post(&gw, "/key/generate", json!({"key_alias": "own"})).await,
        400,
        "key_alias",
    );
    ok(&admin_post(&gw, "/key/delete", json!({"key_aliases": ["own"]})).await);
    assert_eq!(chat(&gw, "sk-my-own-key").await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn users_teams_and_members() {
    let (db, gw) = start().await;

    // A team: the master key's user becomes its admin, as in LiteLLM.
    let team = ok(&admin_post(
        &gw,
        "/team/new",
        json!({"team_id": "t1", "team_alias": "Team One", "models": ["m"], "max_budget": 50, "budget_duration": "30d"}),
    )
    .await);
    assert_eq!(
        (team["team_id"].as_str(), team["team_alias"].as_str()),
        (Some("t1"), Some("Team One"))
    );
    assert_eq!(
        team["members_with_roles"],
        json!([{"role": "admin", "user_id": "default_user_id", "user_email": null}])
    );
    let resets = count(&db, r#"SELECT count(*) FROM "LiteLLM_TeamTable" WHERE team_id = 't1' AND budget_reset_at > now() AT TIME ZONE 'UTC' + interval '29 days'"#, &[]).await;
    assert_eq!(resets, 1);
    error(
        &admin_post(&gw, "/team/new", json!({"team_id": "t1"})).await,
        400,
        "team_id",
    );

    // A user in that team, with a key of its own.
    let user = ok(&admin_post(
        &gw,
        "/user/new",
        json!({"user_id": "u1", "user_email": "u1@example.com", "user_role": "internal_user", "teams": ["t1"], "max_budget": 3}),
    )
    .await);
    let user_key = user["key"].as_str().unwrap().to_string();
    assert_eq!(
        (
            user["user_id"].as_str(),
            user["max_budget"].as_f64(),
            user["teams"].clone()
        ),
        (Some("u1"), Some(3.0), json!(["t1"]))
    );
    let client = db.client().await;
    let row = client
        .query_one(
            r#"SELECT teams, user_role, max_budget FROM "LiteLLM_UserTable" WHERE user_id = 'u1'"#,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Vec<String>>(0), ["t1"]);
    assert_eq!(
        row.get::<_, Option<String>>(1).as_deref(),
        Some("internal_user")
    );
    assert_eq!(row.get::<_, Option<f64>>(2), Some(3.0));
    let key_user: Option<String> = client
        .query_one(
            r#"SELECT user_id FROM "LiteLLM_VerificationToken" WHERE token = $1"#,
            &[&sha(&user_key)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(key_user.as_deref(), Some("u1"));
    assert_eq!(count(&db, r#"SELECT count(*) FROM "LiteLLM_TeamMembership" WHERE user_id = 'u1' AND team_id = 't1'"#, &[]).await, 1);
    error(
        &admin_post(&gw, "/user/new", json!({"user_email": "U1@example.com"})).await,
        400,
        "user_email",
    );

    let info = ok(&admin_get(&gw, "/user/info?user_id=u1").await);
    assert_eq!(info["user_id"], "u1");
    assert_eq!(info["user_info"]["user_email"], "u1@example.com");
    assert!(info["user_info"].get("password").is_none());
    assert_eq!(info["keys"][0]["token"], sha(&user_key).as_str());
    assert_eq!(info["teams"][0]["team_id"], "t1");

    let updated = ok(&admin_post(
        &gw,
        "/user/update",
        json!({"user_id": "u1", "user_alias": "User One", "budget_duration": "1d"}),
    )
    .await);
    assert_eq!(
        (
            updated["user_id"].as_str(),
            updated["data"]["user_alias"].as_str()
        ),
        (Some("u1"), Some("User One"))
    );
    assert_eq!(count(&db, r#"SELECT count(*) FROM "LiteLLM_UserTable" WHERE user_alias = 'User One' AND budget_reset_at IS NOT NULL"#, &[]).await, 1);

    // Members: a new user is created on the way in, and removed cleanly on the way out.
    let added = ok(&admin_post(&gw, "/team/member_add", json!({"team_id": "t1", "member": {"role": "user", "user_id": "u2"}, "max_budget_in_team": 2})).await);
    assert!(
        added["members_with_roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user_id"] == "u2" && m["role"] == "user")
    );
    assert_eq!(added["updated_users"][0]["user_id"], "u2");
    assert_eq!(
        added["updated_team_memberships"][0]["litellm_budget_table"]["max_budget"].as_f64(),
        Some(2.0)
    );
    let u2_teams: Vec<String> = client
        .query_one(
            r#"SELECT teams FROM "LiteLLM_UserTable" WHERE user_id = 'u2'"#,
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(u2_teams, ["t1"]);
    assert_eq!(count(&db, r#"SELECT count(*) FROM "LiteLLM_TeamMembership" WHERE user_id = 'u2' AND team_id = 't1' AND budget_id IS NOT NULL"#, &[]).await, 1);
    let twice = admin_post(
        &gw,
        "/team/member_add",
        json!({"team_id": "t1", "member": {"role": "user", "user_id": "u2"}}),
    )
    .await;
    assert_eq!(
        error(&twice, 400, "member")["error"]["type"],
        "team_member_already_in_team"
    );
    let by_email = ok(&admin_post(
        &gw,
        "/team/member_add",
        json!({"team_id": "t1", "member": [{"role": "admin", "user_email": "u3@example.com"}]}),
    )
    .await);
    assert!(
        by_email["members_with_roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user_email"] == "u3@example.com" && m["user_id"].is_string())
    );

    let removed = ok(&admin_post(
        &gw,
        "/team/member_delete",
        json!({"team_id": "t1", "user_id": "u2"}),
    )
    .await);
    assert!(
        !removed["members_with_roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user_id"] == "u2")
    );
    let u2_teams: Vec<String> = client
        .query_one(
            r#"SELECT teams FROM "LiteLLM_UserTable" WHERE user_id = 'u2'"#,
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(u2_teams.is_empty());
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "LiteLLM_TeamMembership" WHERE user_id = 'u2'"#,
            &[]
        )
        .await,
        0
    );
    error(
        &admin_post(
            &gw,
            "/team/member_delete",
            json!({"team_id": "t1", "user_id": "u2"}),
        )
        .await,
        400,
        "user_id",
    );

    // Team info, update and list; user list.
    let team_key = ok(&admin_post(
        &gw,
        "/key/generate",
        json!({"team_id": "t1", "user_id": "u1"}),
    )
    .await)["key"]
        .as_str()
        .unwrap()
        .to_string();
    let info = ok(&admin_get(&gw, "/team/info?team_id=t1").await);
    assert_eq!(info["team_info"]["team_alias"], "Team One");
    assert_eq!(info["keys"][0]["token"], sha(&team_key).as_str());
    assert!(
        info["team_memberships"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user_id"] == "u1")
    );
    let updated = ok(&admin_post(
        &gw,
        "/team/update",
        json!({"team_id": "t1", "max_budget": 75, "tags": ["prod"]}),
    )
    .await);
    assert_eq!(
        (
            updated["team_id"].as_str(),
            updated["data"]["max_budget"].as_f64()
        ),
        (Some("t1"), Some(75.0))
    );
    assert_eq!(updated["data"]["metadata"]["tags"], json!(["prod"]));
    let teams = ok(&admin_get(&gw, "/team/list").await);
    assert_eq!(teams.as_array().unwrap().len(), 1);
    assert_eq!(teams[0]["keys"][0]["token"], sha(&team_key).as_str());
    let users = ok(&admin_get(&gw, "/user/list?page_size=100&role=internal_user").await);
    let ids: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["user_id"].as_str())
        .collect();
    assert!(ids.contains(&"u1") && ids.contains(&"u2"), "{users}");
    assert_eq!(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["user_id"] == "u1")
            .unwrap()["key_count"],
        2
    );

    // Roles: an internal user's key may not manage; a proxy admin's key may.
    let refused = get_as(&gw, &user_key, "/key/list").await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert!(
        refused.error_message().contains(NOT_ADMIN),
        "{}",
        refused.text()
    );
    let admin = ok(&admin_post(
        &gw,
        "/user/new",
        json!({"user_id": "boss", "user_role": "proxy_admin"}),
    )
    .await);
    let admin_key = admin["key"].as_str().unwrap().to_string();
    ok(&get_as(&gw, &admin_key, "/key/list").await);
    let by_admin = ok(&post_as(&gw, &admin_key, "/key/generate", json!({})).await);
    assert_eq!(by_admin["created_by"], "boss");

    // Deletes: the team takes its keys along; the user takes theirs.
    assert_eq!(
        ok(&admin_post(&gw, "/team/delete", json!({"team_ids": ["t1"]})).await),
        json!({"deleted_teams": ["t1"]})
    );
    assert_eq!(
        count(&db, r#"SELECT count(*) FROM "LiteLLM_TeamTable""#, &[]).await,
        0
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "LiteLLM_DeletedTeamTable" WHERE team_id = 't1'"#,
            &[]
        )
        .await,
        1
    );
    assert_eq!(chat(&gw, &team_key).await.status, 401);
    let u1_teams: Vec<String> = client
        .query_one(
            r#"SELECT teams FROM "LiteLLM_UserTable" WHERE user_id = 'u1'"#,
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(u1_teams.is_empty());
    assert_eq!(chat(&gw, &user_key).await.status, 200);
    assert_eq!(
        ok(&admin_post(&gw, "/user/delete", json!({"user_ids": ["u1"]})).await),
        json!(1)
    );
    assert_eq!(
        count(
            &db,
            r#"SELECT count(*) FROM "LiteLLM_UserTable" WHERE user_id = 'u1'"#,
            &[]
        )
        .await,
        0
    );
    assert_eq!(chat(&gw, &user_key).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn non_admin_keys_are_refused_on_every_management_route() {
    let (_db, gw) = start().await;
    let plain = ok(&admin_post(&gw, "/key/generate", json!({})).await)["key"]
        .as_str()
        .unwrap()
        .to_string();
    let internal = ok(&admin_post(
        &gw,
        "/user/new",
        json!({"user_id": "worker-bee", "user_role": "internal_user"}),
    )
    .await)["key"]
        .as_str()
        .unwrap()
        .to_string();
    let routes = [
        (Method::POST, "/key/generate", "/key/generate"),
        (Method::POST, "/key/update", "/key/update"),
        (Method::POST, "/key/delete", "/key/delete"),
        (Method::GET, "/key/list", "/key/list"),
        (Method::POST, "/key/regenerate", "/key/regenerate"),
        (
            Method::POST,
            "/key/sk-someone-else/regenerate",
            "/key/regenerate",
        ),
        (Method::POST, "/key/block", "/key/block"),
        (Method::POST, "/key/unblock", "/key/unblock"),
        (Method::POST, "/user/new", "/user/new"),
        (Method::GET, "/user/info", "/user/info"),
        (Method::POST, "/user/update", "/user/update"),
        (Method::POST, "/user/delete", "/user/delete"),
        (Method::GET, "/user/list", "/user/list"),
        (Method::POST, "/team/new", "/team/new"),
        (Method::GET, "/team/info", "/team/info"),
        (Method::POST, "/team/update", "/team/update"),
        (Method::POST, "/team/delete", "/team/delete"),
        (Method::GET, "/team/list", "/team/list"),
        (Method::POST, "/team/member_add", "/team/member_add"),
        (Method::POST, "/team/member_delete", "/team/member_delete"),
        (Method::GET, "/spend/logs", "/spend/logs"),
    ];
    for key in [&plain, &internal] {
        let auth = bearer(key);
        for (method, path, route) in &routes {
            let resp = request(
                method.clone(),
                &gw.url(path),
                &[("authorization", auth.as_str())],
                "{}",
            )
            .await;
            assert_eq!(resp.status, 401, "{method} {path}: {}", resp.text());
            let body = resp.json();
            assert_eq!(
                (
                    body["error"]["type"].as_str(),
                    body["error"]["param"].as_str()
                ),
                (Some("auth_error"), Some("None"))
            );
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(NOT_ADMIN) && message.contains(&format!("Route={route}.")),
                "{path}: {message}"
            );
        }
    }
    // No key at all, and a key that does not exist.
    let anonymous = get(&gw.url("/key/list"), &[]).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    assert_eq!(get_as(&gw, "sk-nobody", "/key/list").await.status, 401);
    // `/key/info` is open to any key about itself, not about other keys.
    let own = ok(&get_as(&gw, &plain, "/key/info").await);
    assert_eq!(own["key"], plain.as_str());
    assert_eq!(
        get_as(&gw, &plain, &format!("/key/info?key={internal}"))
            .await
            .status,
        403
    );
    assert_eq!(
        ok(&get_as(&gw, &internal, &format!("/key/info?key={}", sha(&internal))).await)["info"]["user_id"],
        "worker-bee"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_names_the_field_and_unknown_rows_are_404() {
    let (_db, gw) = start().await;
    let bad_role = error(
        &admin_post(&gw, "/user/new", json!({"user_role": "emperor"})).await,
        400,
        "user_role",
    );
    assert!(
        bad_role["error"]["message"]
            .as_str()
            .unwrap()
            .contains("emperor")
    );
    error(
        &admin_post(
            &gw,
            "/user/update",
            json!({"user_id": "x", "user_role": "emperor"}),
        )
        .await,
        400,
        "user_role",
    );
    error(
        &admin_post(&gw, "/key/generate", json!({"team_id": "no-such-team"})).await,
        400,
        "team_id",
    );
    error(
        &admin_post(&gw, "/key/generate", json!({"duration": "forever"})).await,
        400,
        "duration",
    );
    error(
        &admin_post(&gw, "/key/generate", json!({"budget_duration": "3x"})).await,
        400,
        "budget_duration",
    );
    error(
        &admin_post(&gw, "/key/generate", json!({"key": "not-an-sk-key"})).await,
        400,
        "key",
    );
    error(
        &admin_post(&gw, "/key/generate", json!({"max_budget": "lots"})).await,
        400,
        "max_budget",
    );
    error(
        &admin_post(&gw, "/key/generate", json!({"models": "m"})).await,
        400,
        "models",
    );
    error(
        &admin_post(&gw, "/key/update", json!({"max_budget": 1})).await,
        400,
        "key",
    );
    error(
        &admin_post(&gw, "/key/delete", json!({})).await,
        400,
        "keys",
    );
    error(
        &admin_post(
            &gw,
            "/team/new",
            json!({"members_with_roles": [{"role": "owner", "user_id": "a"}]}),
        )
        .await,
        400,
        "members_with_roles",
    );
    error(
        &admin_post(&gw, "/team/member_add", json!({"team_id": "t"})).await,
        400,
        "member",
    );
    error(
        &admin_post(&gw, "/user/delete", json!({})).await,
        400,
        "user_ids",
    );
    error(&admin_get(&gw, "/key/list?size=1000").await, 400, "size");
    error(
        &admin_get(&gw, "/spend/logs?start_date=yesterday&end_date=2024-01-01").await,
        400,
        "start_date",
    );
    let malformed = post(
        &gw.url("/key/generate"),
        &[("authorization", "Bearer sk-master")],
        "{not json",
    )
    .await;
    error(&malformed, 400, "body");

    error(
        &admin_get(&gw, "/key/info?key=sk-does-not-exist").await,
        404,
        "key",
    );
    error(
        &admin_post(
            &gw,
            "/key/update",
            json!({"key": "sk-does-not-exist", "max_budget": 1}),
        )
        .await,
        404,
        "key",
    );
    error(
        &admin_post(&gw, "/key/block", json!({"key": "sk-does-not-exist"})).await,
        404,
        "key",
    );
    error(
        &admin_post(&gw, "/key/regenerate", json!({"key": "sk-does-not-exist"})).await,
        404,
        "key",
    );
    error(
        &admin_get(&gw, "/user/info?user_id=nobody").await,
        404,
        "user_id",
    );
    error(
        &admin_post(
            &gw,
            "/user/update",
            json!({"user_id": "nobody", "user_alias": "x"}),
        )
        .await,
        404,
        "user_id",
    );
    error(
        &admin_post(&gw, "/user/delete", json!({"user_ids": ["nobody"]})).await,
        404,
        "user_ids",
    );
    error(
        &admin_get(&gw, "/team/info?team_id=nothing").await,
        404,
        "team_id",
    );
    error(
        &admin_post(
            &gw,
            "/team/update",
            json!({"team_id": "nothing", "max_budget": 1}),
        )
        .await,
        404,
        "team_id",
    );
    error(
        &admin_post(&gw, "/team/delete", json!({"team_ids": ["nothing"]})).await,
        404,
        "team_ids",
    );
    error(
        &admin_post(
            &gw,
            "/team/member_add",
            json!({"team_id": "nothing", "member": {"role": "user", "user_id": "a"}}),
        )
        .await,
        404,
        "team_id",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn spend_logs_filter_by_key_request_user_and_date() {
    let (db, gw) = start().await;
    let client = db.client().await;
    for (request_id, key, user, day, spend) in [
        (
            "req-1",
            "sk-spender-one",
            "alice",
            "2024-03-01 10:00:00",
            1.5,
        ),
        (
            "req-2",
            "sk-spender-one",
            "alice",
            "2024-03-02 11:00:00",
            2.0,
        ),
        ("req-3", "sk-spender-two", "bob", "2024-03-02 12:00:00", 4.0),
    ] {
        client
            .execute(
                r#"INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens,
                       prompt_tokens, completion_tokens, "startTime", "endTime", model, "user")
                   VALUES ($1, 'acompletion', $2, $3, 3, 1, 2, $4::text::timestamp, $4::text::timestamp, 'm', $5)"#,
                &[&request_id, &sha(key), &spend, &day, &user],
            )
            .await
            .unwrap();
    }
    let ids = |body: &Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|r| r["request_id"].as_str().unwrap().to_string())
            .collect()
    };
    let by_key = ok(&admin_get(&gw, "/spend/logs?api_key=sk-spender-one").await);
    assert_eq!(ids(&by_key), ["req-2", "req-1"], "newest first");
    assert_eq!(by_key[0]["startTime"], "2024-03-02T11:00:00+00:00");
    assert_eq!(
        ids(&ok(&admin_get(
            &gw,
            &format!("/spend/logs?api_key={}", sha("sk-spender-two"))
        )
        .await)),
        ["req-3"]
    );
    assert_eq!(
        ids(&ok(&admin_get(&gw, "/spend/logs?request_id=req-2").await)),
        ["req-2"]
    );
    assert_eq!(
        ids(&ok(&admin_get(&gw, "/spend/logs?user_id=bob").await)),
        ["req-3"]
    );
    assert_eq!(
        ok(&admin_get(&gw, "/spend/logs").await)
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let range = ok(&admin_get(
        &gw,
        "/spend/logs?start_date=2024-03-02&end_date=2024-03-03&summarize=false",
    )
    .await);
    assert_eq!(ids(&range), ["req-3", "req-2"]);
    let range = ok(&admin_get(&gw, "/spend/logs?api_key=sk-spender-one&start_date=2024-03-01&end_date=2024-03-03&summarize=false").await);
    assert_eq!(ids(&range), ["req-2", "req-1"]);
    // LiteLLM's default for a date range: a per-day summary, padded to the end date.
    let summary =
        ok(&admin_get(&gw, "/spend/logs?start_date=2024-03-01&end_date=2024-03-03").await);
    assert_eq!(
        summary,
        json!([
            {"startTime": "2024-03-01", "spend": 1.5, "users": {"alice": 1.5}, "models": {"m": 1.5}, sha("sk-spender-one"): 1.5},
            {"startTime": "2024-03-02", "spend": 6.0, "users": {"alice": 2.0, "bob": 4.0}, "models": {"m": 6.0},
             sha("sk-spender-one"): 2.0, sha("sk-spender-two"): 4.0},
            {"startTime": "2024-03-03", "spend": 0, "users": {}, "models": {}},
        ])
    );
}
