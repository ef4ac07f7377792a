//! docs/LOCAL.md: the spec and `template.yaml` never disagree about the routes. Three lists
//! name keygate's HTTP routes — each function's route registry (`keygate_token::ROUTES`, …: the
//! Lambda and the local API server both dispatch from it), the `HttpApi` events of
//! `template.yaml` (API Gateway routes with them, per function) and the paths of
//! `infra/openapi.yaml` (what integrators and schemathesis read) — and they must be one set.
//! The last test sends a request to every registered route and checks it reaches a handler.
//!
//! `template.yaml` uses CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`, `!If`, …);
//! `serde_yaml_ng` keeps an unknown tag as a `Value::Tagged`, so the file parses as it is, and
//! every lookup here looks through tags.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use keygate_http::routes::Route;
use keygate_local::dispatch::FUNCTIONS;
use serde_yaml_ng::Value;

/// `(METHOD, path)`, the method upper-case, the path with `{param}` segments.
type RouteKey = (String, String);

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn load(rel: &str) -> Value {
    let path = repo_file(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

/// The value under a tag (`!Ref X` → `X`), or the value itself.
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    untag(v).as_mapping()?.get(key).map(untag)
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    get(v, key)?.as_str()
}

fn entries(v: Option<&Value>) -> Vec<(String, &Value)> {
    v.map(untag)
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((untag(k).as_str()?.to_owned(), untag(v))))
                .collect()
        })
        .unwrap_or_default()
}

fn key_of(r: &Route) -> RouteKey {
    (r.method.to_ascii_uppercase(), r.path.to_owned())
}

/// Every registered route, with the `template.yaml` resource of its function.
fn code_routes() -> BTreeMap<RouteKey, (&'static Route, &'static str)> {
    let mut out = BTreeMap::new();
    for f in FUNCTIONS {
        for r in f.routes {
            assert!(
                out.insert(key_of(r), (r, f.resource)).is_none(),
                "the registries list {} {} twice",
                r.method,
                r.path
            );
        }
    }
    out
}

/// One `Type: HttpApi` event of `template.yaml`.
#[derive(Debug)]
struct TemplateEvent {
    resource: String,
    event: String,
    /// `Auth.Authorizer`, if the event names one (`NONE` opts out of the default authorizer).
    authorizer: Option<String>,
}

fn template_routes(template: &Value) -> BTreeMap<RouteKey, TemplateEvent> {
    let mut out = BTreeMap::new();
    for (resource, res) in entries(get(template, "Resources")) {
        let events = get(res, "Properties").and_then(|p| get(p, "Events"));
        for (event, ev) in entries(events) {
            if str_at(ev, "Type") != Some("HttpApi") {
                continue;
            }
            let props = get(ev, "Properties")
                .unwrap_or_else(|| panic!("template.yaml: {resource}.{event} has no Properties"));
            let method = str_at(props, "Method")
                .unwrap_or_else(|| panic!("template.yaml: {resource}.{event} has no Method"));
            let path = str_at(props, "Path")
                .unwrap_or_else(|| panic!("template.yaml: {resource}.{event} has no Path"));
            let authorizer = get(props, "Auth")
                .and_then(|a| str_at(a, "Authorizer"))
                .map(str::to_owned);
            let key = (method.to_ascii_uppercase(), path.to_owned());
            let found = TemplateEvent {
                resource: resource.clone(),
                event: event.clone(),
                authorizer,
            };
            if let Some(before) = out.insert(key.clone(), found) {
                panic!(
                    "template.yaml routes {} {} twice ({}.{} and {resource}.{event})",
                    key.0, key.1, before.resource, before.event
                );
            }
        }
    }
    out
}

fn openapi_routes(spec: &Value) -> BTreeSet<RouteKey> {
    let mut out = BTreeSet::new();
    for (path, item) in entries(get(spec, "paths")) {
        for (method, _) in entries(Some(item)) {
            if HTTP_METHODS.contains(&method.as_str()) {
                out.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// `a` and `b` as one set, or a message naming what each lacks.
fn same_set(what: (&str, &str), a: &BTreeSet<RouteKey>, b: &BTreeSet<RouteKey>) -> Option<String> {
    if a == b {
        return None;
    }
    let show = |set: Vec<&RouteKey>| {
        set.iter()
            .map(|(m, p)| format!("\n    {m} {p}"))
            .collect::<String>()
    };
    Some(format!(
        "the routes of {} and {} differ\n  only in {}:{}\n  only in {}:{}",
        what.0,
        what.1,
        what.0,
        show(a.difference(b).collect()),
        what.1,
        show(b.difference(a).collect()),
    ))
}

#[test]
fn template_serves_exactly_the_routes_of_the_code() {
    let code: BTreeSet<RouteKey> = code_routes().into_keys().collect();
    let template = template_routes(&load("template.yaml"));
    let tpl: BTreeSet<RouteKey> = template.keys().cloned().collect();
    if let Some(msg) = same_set(("the route registries", "template.yaml"), &code, &tpl) {
        panic!("{msg}");
    }
}

#[test]
fn openapi_describes_exactly_the_routes_of_the_code() {
    let code: BTreeSet<RouteKey> = code_routes().into_keys().collect();
    let spec = openapi_routes(&load("infra/openapi.yaml"));
    if let Some(msg) = same_set(("the route registries", "infra/openapi.yaml"), &code, &spec) {
        panic!("{msg}");
    }
}

/// `verify` is the HTTP API's default authorizer (so a route added without thought is never
/// public); exactly the routes with `authorizer: true` keep it, every other one opts out with
/// `Auth: {Authorizer: NONE}`. Each route's event also sits on the function that `ROUTES` names,
/// so API Gateway and the local server call the same handler.
#[test]
fn authorizer_and_function_of_each_route_agree() {
    let template = load("template.yaml");
    let apis: Vec<(String, &Value)> = entries(get(&template, "Resources"))
        .into_iter()
        .filter(|(_, r)| str_at(r, "Type") == Some("AWS::Serverless::HttpApi"))
        .collect();
    assert_eq!(apis.len(), 1, "template.yaml has one HttpApi");
    let default = get(apis[0].1, "Properties")
        .and_then(|p| get(p, "Auth"))
        .and_then(|a| str_at(a, "DefaultAuthorizer"))
        .expect("the HttpApi has a DefaultAuthorizer");

    let events = template_routes(&template);
    let mut wrong = Vec::new();
    for (key, (route, resource)) in code_routes() {
        let Some(ev) = events.get(&key) else {
            continue; // reported by template_serves_exactly_the_routes_of_the_code
        };
        let at = format!("{} {} ({}.{})", key.0, key.1, ev.resource, ev.event);
        match (route.authorizer, ev.authorizer.as_deref()) {
            (true, None) => {}
            (true, Some(a)) if a == default => {}
            (true, Some(a)) => wrong.push(format!(
                "{at}: ROUTES says it runs the default authorizer {default}, template.yaml says {a}"
            )),
            (false, Some("NONE")) => {}
            (false, a) => wrong.push(format!(
                "{at}: ROUTES says no authorizer, template.yaml says {} (needs Auth: {{Authorizer: NONE}})",
                a.unwrap_or("the default")
            )),
        }
        if ev.resource != resource {
            wrong.push(format!(
                "{at}: the registry of {resource} serves it, template.yaml puts it on {}",
                ev.resource
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The operator routes are the local server's own (docs/LOCAL.md): never deployed, never
/// documented as the API.
#[test]
fn operator_routes_are_in_neither_file() {
    let local = |(_, p): &RouteKey| p.starts_with("/_local/") || p == "/_local";
    let code: Vec<RouteKey> = code_routes().into_keys().filter(local).collect();
    assert!(code.is_empty(), "ROUTES lists operator routes: {code:?}");
    let tpl: Vec<RouteKey> = template_routes(&load("template.yaml"))
        .into_keys()
        .filter(local)
        .collect();
    assert!(
        tpl.is_empty(),
        "template.yaml routes operator routes: {tpl:?}"
    );
    let spec: Vec<RouteKey> = openapi_routes(&load("infra/openapi.yaml"))
        .into_iter()
        .filter(local)
        .collect();
    assert!(
        spec.is_empty(),
        "infra/openapi.yaml documents operator routes: {spec:?}"
    );
}

/// Resolves a local `$ref` (`#/components/…`), or panics naming it.
fn resolve<'a>(spec: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix("#/")
        .unwrap_or_else(|| panic!("only local $refs are used: {reference}"));
    pointer.split('/').fold(spec, |v, part| {
        let part = part.replace("~1", "/").replace("~0", "~");
        get(v, &part).unwrap_or_else(|| panic!("$ref {reference} does not resolve"))
    })
}

/// Follows `$ref`s until a value without one.
fn deref<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match str_at(v, "$ref") {
        Some(r) => deref(spec, resolve(spec, r)),
        None => untag(v),
    }
}

fn every_ref(v: &Value, out: &mut Vec<String>) {
    match untag(v) {
        Value::Mapping(m) => {
            for (k, v) in m {
                if untag(k).as_str() == Some("$ref") {
                    if let Some(r) = untag(v).as_str() {
                        out.push(r.to_owned());
                    }
                }
                every_ref(v, out);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| every_ref(v, out)),
        _ => {}
    }
}

/// Every OAuth error code the server can send is one the spec's `OAuthError` enum lists (the
/// fuzzer's response-schema check fails on any other), and the spec lists no other.
#[test]
fn the_spec_names_every_oauth_error_code() {
    let spec = load("infra/openapi.yaml");
    let listed: BTreeSet<&str> = spec["components"]["schemas"]["OAuthError"]["properties"]["error"]
        ["enum"]
        .as_sequence()
        .expect("the OAuthError schema's enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let code: BTreeSet<&str> = keygate_core::kernel::error::OAuthError::ALL
        .iter()
        .map(|e| e.as_str())
        .collect();
    assert_eq!(
        code, listed,
        "infra/openapi.yaml's OAuthError enum and the code's codes"
    );
}

/// The spec is OpenAPI 3.1; every `$ref` resolves; every operation documents its responses,
/// at least one of them a 4xx; every `{param}` of a path is a declared path parameter; every
/// security scheme an operation names is defined.
#[test]
fn openapi_is_well_formed() {
    let spec = load("infra/openapi.yaml");
    let version = str_at(&spec, "openapi").expect("an openapi version");
    assert!(version.starts_with("3.1."), "OpenAPI 3.1, not {version}");

    let mut refs = Vec::new();
    every_ref(&spec, &mut refs);
    for r in &refs {
        resolve(&spec, r);
    }

    let schemes: BTreeSet<String> =
        entries(get(&spec, "components").and_then(|c| get(c, "securitySchemes")))
            .into_iter()
            .map(|(k, _)| k)
            .collect();
    for name in [
        "apiKey",
        "bearer",
        "session",
        "signedRequest",
        "clientBasic",
    ] {
        assert!(schemes.contains(name), "security scheme {name} is defined");
    }

    let mut problems = Vec::new();
    for (path, item) in entries(get(&spec, "paths")) {
        let wanted: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        let params_of = |v: &Value| -> Vec<(String, String)> {
            get(v, "parameters")
                .and_then(Value::as_sequence)
                .map(|ps| {
                    ps.iter()
                        .map(|p| deref(&spec, p))
                        .filter_map(|p| {
                            Some((str_at(p, "in")?.to_owned(), str_at(p, "name")?.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let path_level = params_of(item);
        for (method, op) in entries(Some(item)) {
            if !HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            let at = format!("{} {path}", method.to_ascii_uppercase());
            let statuses: Vec<String> = entries(get(op, "responses"))
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            if statuses.is_empty() {
                problems.push(format!("{at}: no responses"));
            } else if !statuses.iter().any(|s| s.starts_with('4')) {
                problems.push(format!("{at}: no 4xx response among {statuses:?}"));
            }
            let declared: BTreeSet<String> = path_level
                .iter()
                .chain(params_of(op).iter())
                .filter(|(loc, _)| loc == "path")
                .map(|(_, n)| n.clone())
                .collect();
            if declared != wanted {
                problems.push(format!(
                    "{at}: path parameters {declared:?}, the path has {wanted:?}"
                ));
            }
            match get(op, "security").and_then(Value::as_sequence) {
                None => problems.push(format!("{at}: no security (say [] for a public route)")),
                Some(reqs) => {
                    for (name, _) in reqs.iter().flat_map(|r| entries(Some(r))) {
                        if !schemes.contains(&name) {
                            problems.push(format!("{at}: unknown security scheme {name}"));
                        }
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every registered route is dispatched to a handler: a request to it (parameters filled in) is
/// answered by the handler, never by the dispatcher's `404 route_unknown` / `405`; and a trailing
/// slash or another method is the dispatcher's answer, the same in every function.
#[tokio::test]
async fn every_registered_route_reaches_its_handler() {
    let s = keygate_e2e::Server::start(keygate_e2e::Backend::Memory).await;
    for (key, (route, _)) in code_routes() {
        let path = route
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let method = reqwest::Method::from_bytes(key.0.as_bytes()).unwrap();
        let (status, body) = s.call(s.http.request(method.clone(), s.url(&path))).await;
        let dispatcher = matches!(
            body["reason"].as_str(),
            Some("route_unknown" | "method_not_allowed")
        );
        assert!(
            !dispatcher,
            "{} {}: answered by the dispatcher ({status} {body})",
            key.0, key.1
        );
        let (status, body) = s
            .call(s.http.request(method, s.url(&format!("{path}/"))))
            .await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (404, Some("route_unknown")),
            "{} {}/",
            key.0,
            path
        );
    }
    let (status, body) = s.call(s.http.patch(s.url("/api/whoami"))).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (405, Some("method_not_allowed"))
    );
}

/// Each function's IAM statement on the table grants exactly the actions its code declares
/// (`DYNAMODB_ACTIONS`): least privilege, and no `sam deploy` that breaks on a missing one. Only
/// the webhooks function gets the dead-letter queue's URL; it and client-apps the events queue's.
#[test]
fn each_function_is_granted_exactly_its_table_actions() {
    let template = load("template.yaml");
    let declared: [(&str, &[&str]); 5] = [
        ("TokenFunction", keygate_token::DYNAMODB_ACTIONS),
        ("AuthTokensFunction", keygate_auth_tokens::DYNAMODB_ACTIONS),
        ("ClientAppsFunction", keygate_client_apps::DYNAMODB_ACTIONS),
        ("VerifyFunction", keygate_verify::DYNAMODB_ACTIONS),
        ("WebhooksFunction", keygate_webhooks::DYNAMODB_ACTIONS),
    ];
    let resources = get(&template, "Resources").expect("Resources");
    for (name, actions) in declared {
        let props = get(resources, name)
            .and_then(|r| get(r, "Properties"))
            .unwrap_or_else(|| panic!("template.yaml has no {name}"));
        let policies = get(props, "Policies")
            .and_then(Value::as_sequence)
            .unwrap_or_else(|| panic!("{name} has no Policies"));
        assert!(
            policies
                .iter()
                .all(|p| get(p, "DynamoDBCrudPolicy").is_none()
                    && get(p, "DynamoDBReadPolicy").is_none()),
            "{name}: a managed DynamoDB policy grants more than the code uses"
        );
        let mut granted: BTreeSet<String> = BTreeSet::new();
        for p in policies {
            let Some(stmts) = get(p, "Statement").and_then(Value::as_sequence) else {
                continue;
            };
            for st in stmts.iter().map(untag) {
                let acts = get(st, "Action").and_then(Value::as_sequence);
                for a in acts.into_iter().flatten().filter_map(|a| untag(a).as_str()) {
                    if a.starts_with("dynamodb:") {
                        granted.insert(a.to_owned());
                    }
                }
            }
        }
        let want: BTreeSet<String> = actions.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            granted, want,
            "{name}: template.yaml grants vs the code declares"
        );
        let env = get(props, "Environment")
            .and_then(|e| get(e, "Variables"))
            .map(|v| {
                entries(Some(v))
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        // The webhooks function has both queues; client-apps sends resends, recoveries and
        // operational events to the events queue; no other function has either.
        assert_eq!(
            env.iter().any(|k| k == "KEYGATE_DLQ_URL"),
            name == "WebhooksFunction",
            "{name}: queue URLs {env:?}"
        );
        assert_eq!(
            env.iter().any(|k| k == "KEYGATE_QUEUE_URL"),
            matches!(name, "WebhooksFunction" | "ClientAppsFunction"),
            "{name}: queue URLs {env:?}"
        );
    }
    let globals = get(&template, "Globals")
        .and_then(|g| get(g, "Function"))
        .and_then(|f| get(f, "Environment"))
        .and_then(|e| get(e, "Variables"))
        .expect("Globals environment");
    assert!(
        get(globals, "KEYGATE_QUEUE_URL").is_none(),
        "queue URLs are not global"
    );
}
