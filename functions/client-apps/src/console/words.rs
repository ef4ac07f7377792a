//! The console's wording, in English and French, taken from the seeds: OneSpan's "Managing API
//! Access and Event Notifications" (000, English; 002, its French edition, whose typography —
//! a no-break space before a colon — is kept) and "Managing API Access and Authentication
//! Settings" (001, English only). Where the seeds have no wording (the French of 001's pages,
//! sign-out, the API key's regeneration that keygate adds, the delivery log), it is written in
//! the same register; those lines say `// not in the seeds`. "OneSpan Sign" reads "keygate".
//! The event labels and descriptions come from the event catalog (`keygate_core::notify::events::catalog`).

use lambda_http::Request;

/// A console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    /// `?lang=fr` / `?lang=en` first, then an `Accept-Language` whose first language is French.
    pub fn of(req: &Request) -> Self {
        if let Some(l) = keygate_http::query_param(req, "lang")
            .ok()
            .flatten()
            .as_deref()
            .and_then(Self::parse)
        {
            return l;
        }
        let first = req
            .headers()
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|t| t.trim().to_ascii_lowercase());
        match first {
            Some(t) if t == "fr" || t.starts_with("fr-") || t.starts_with("fr;") => Lang::Fr,
            _ => Lang::En,
        }
    }

    pub fn parse(v: &str) -> Option<Self> {
        match v {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// A console path in this language (French keeps `?lang=fr` on every link).
    pub fn link(self, path: &str) -> String {
        match self {
            Lang::En => path.to_owned(),
            Lang::Fr if path.contains('?') => format!("{path}&lang=fr"),
            Lang::Fr => format!("{path}?lang=fr"),
        }
    }

    pub fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::Fr => &FR,
        }
    }
}

/// Every string the console shows.
pub struct Words {
    pub admin: &'static str,
    pub api_access: &'static str,
    pub authentication: &'static str,
    pub event_notification: &'static str,
    pub sign_out: &'static str,
    pub skip: &'static str,
    pub other_language: &'static str,
    pub save: &'static str,
    pub add: &'static str,
    pub create: &'static str,
    pub done: &'static str,
    pub view: &'static str,
    pub hide: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
    pub delete: &'static str,
    pub revoke: &'static str,
    pub rotate: &'static str,
    pub name: &'static str,
    pub actions: &'static str,
    pub created: &'static str,
    pub owner_only: &'static str,
    pub error_title: &'static str,
    pub done_title: &'static str,

    // API Access
    pub api_access_intro: &'static str,
    pub api_key: &'static str,
    pub api_key_masked: &'static str,
    pub api_key_owner_only: &'static str,
    pub api_key_recommend: &'static str,
    pub regenerate: &'static str,
    pub regenerate_confirm: &'static str,
    pub regenerated: &'static str,
    pub client_apps: &'static str,
    pub client_apps_intro: &'static str,
    pub create_client_app: &'static str,
    pub name_hint: &'static str,
    pub client_id: &'static str,
    pub secret: &'static str,
    pub copy_codes: &'static str,
    pub store_codes: &'static str,
    pub secret_once: &'static str,
    pub codes_purpose: &'static str,
    pub client_apps_lifecycle: &'static str,
    pub new_secret: &'static str,
    pub no_client_apps: &'static str,
    pub oauth: &'static str,
    pub oauth_intro: &'static str,
    pub authorization_server_url: &'static str,
    pub server_url_help: &'static str,
    pub create_oauth_client: &'static str,
    pub oauth_name_hint: &'static str,
    pub client_secret: &'static str,
    pub client_secret_once: &'static str,
    pub get_new_credentials: &'static str,
    pub oauth_not_active: &'static str,
    pub scopes: &'static str,
    pub redirect_uris: &'static str,
    pub redirect_uris_hint: &'static str,
    pub domain: &'static str,
    pub domain_hint: &'static str,
    pub public_client: &'static str,
    pub public_client_hint: &'static str,
    pub fapi2_client: &'static str,
    pub fapi2_client_hint: &'static str,
    pub client_keys: &'static str,
    pub jwks: &'static str,
    pub jwks_hint: &'static str,
    pub jwks_uri: &'static str,
    pub jwks_uri_hint: &'static str,
    pub keys_badge: &'static str,
    pub edit: &'static str,
    pub no_oauth_clients: &'static str,

    // Authentication settings
    pub settings_title: &'static str,
    pub settings_intro: &'static str,
    pub settings_instruction: &'static str,
    pub method_api_key: &'static str,
    pub method_oauth: &'static str,
    pub settings_after: &'static str,
    pub settings_exclusive: &'static str,
    pub settings_saved: &'static str,

    // Event notification
    pub events_intro: &'static str,
    pub callback_url: &'static str,
    pub required: &'static str,
    pub auth_method: &'static str,
    pub auth_method_help: &'static str,
    pub auth_none: &'static str,
    pub auth_none_help: &'static str,
    pub auth_basic: &'static str,
    pub auth_basic_help: &'static str,
    pub callback_key: &'static str,
    pub auth_oauth: &'static str,
    pub auth_oauth_help: &'static str,
    pub oauth_client_id: &'static str,
    pub oauth_client_id_help: &'static str,
    pub oauth_client_secret: &'static str,
    pub oauth_server_url: &'static str,
    pub oauth_server_url_help: &'static str,
    pub scope: &'static str,
    pub scope_help: &'static str,
    pub secret_kept: &'static str,
    pub select_events: &'static str,
    pub toggle_help: &'static str,
    pub account_events: &'static str,
    pub participant_events: &'static str,
    pub revert: &'static str,
    pub revert_help: &'static str,
    pub callback_saved: &'static str,
    pub reverted: &'static str,
    pub signing_secret: &'static str,
    pub signing_secret_help: &'static str,
    pub rotate_grace: &'static str,
    pub extra_endpoints: &'static str,
    pub extra_endpoints_help: &'static str,
    pub add_endpoint: &'static str,
    pub no_endpoints: &'static str,
    pub url: &'static str,
    pub events: &'static str,
    pub recent_deliveries: &'static str,
    pub recent_deliveries_help: &'static str,
    pub no_deliveries: &'static str,
    pub when: &'static str,
    pub event: &'static str,
    pub event_id: &'static str,
    pub endpoint: &'static str,
    pub attempt: &'static str,
    pub outcome: &'static str,
    pub latency: &'static str,
    pub delivered: &'static str,
    pub failed: &'static str,
    pub primary_endpoint: &'static str,
    pub pending: &'static str,
    pub attempts: &'static str,
    pub resend: &'static str,
    pub resend_queued: &'static str,
    pub recover_since: &'static str,
    pub recover_help: &'static str,
    pub since_utc: &'static str,
    pub recover: &'static str,
    /// `{n}`: how many messages.
    pub recovery_queued: &'static str,
    pub operational_events: &'static str,
    pub rate_limit: &'static str,
    pub rate_limit_help: &'static str,

    // Sign-in and refusals
    pub sign_in_title: &'static str,
    pub sign_in_body: &'static str,
    pub not_allowed_title: &'static str,
    pub not_allowed_body: &'static str,
    pub integration_session_title: &'static str,
    pub integration_session_body: &'static str,
    pub csrf_title: &'static str,
    pub csrf_body: &'static str,
    pub signed_out: &'static str,
}

pub static EN: Words = Words {
    admin: "Admin",
    api_access: "API Access",
    authentication: "Authentication Settings",
    event_notification: "Event Notification",
    sign_out: "Sign out", // not in the seeds
    skip: "Skip to content", // not in the seeds
    other_language: "Français",
    save: "Save",
    add: "Add",
    create: "Create",
    done: "Done",
    view: "View",
    hide: "Hide", // not in the seeds
    copy: "Copy",
    copied: "Copied", // not in the seeds
    delete: "Delete",
    revoke: "Revoke",
    rotate: "Rotate",
    name: "Name",
    actions: "Actions",
    created: "Created", // not in the seeds
    owner_only: "Only the account owner can change this.", // not in the seeds
    error_title: "That did not work", // not in the seeds
    done_title: "Saved", // not in the seeds

    api_access_intro: "Customers can communicate with keygate from within their own system via REST API calls. The system can authenticate those calls using either of the following techniques:",
    api_key: "API Key",
    api_key_masked: "By default, your API key is masked.",
    api_key_owner_only: "Only an account owner can view an API key.",
    api_key_recommend: "While API keys can be used with keygate, we recommend that you use Client Apps instead. Client Apps are more flexible and help reduce the number of potential security vulnerabilities.",
    regenerate: "Regenerate", // not in the seeds (001 regenerates OAuth secrets)
    regenerate_confirm: "I understand that the current key stops working at once and that every integration that uses it must be updated.", // not in the seeds
    regenerated: "Your new API key. It replaces the previous one, which no longer works.", // not in the seeds
    client_apps: "Client Apps",
    client_apps_intro: "Before integrators can make requests via REST APIs or SDK functions, keygate requires that users either register a Client App, or provide a secure API Key to authenticate the API calls.",
    create_client_app: "Create Client App",
    name_hint: "Enter a Name for the Client App.",
    client_id: "Client ID",
    secret: "Secret",
    copy_codes: "Copy the Client ID and Secret codes that appear.",
    store_codes: "Store the Client ID and Secret codes in a secure location.",
    secret_once: "The Secret will no longer appear once you click Done. For your records, please copy this Secret to a secure location.",
    codes_purpose: "Both the Client ID and Secret are used to retrieve the temporary API Token.",
    client_apps_lifecycle: "With Client Apps access can be created, rotated, or revoked as needed.",
    new_secret: "A new Secret has been generated. It will no longer appear once you click Done.", // not in the seeds
    no_client_apps: "No Client Apps yet.", // not in the seeds
    oauth: "OAuth 2.0",
    oauth_intro: "OAuth 2.0 is the industry standard protocol for online authorization. keygate supports it with the client credentials grant, and with the authorization code grant (with PKCE) for applications a user approves.",
    authorization_server_url: "Authorization Server URL",
    server_url_help: "The Authorization Server URL is provided by keygate and cannot be modified. Copy the Authorization Server URL that is displayed. This will be needed for your integration settings.",
    create_oauth_client: "Create OAuth 2.0 Client",
    oauth_name_hint: "Enter a Name for the OAuth 2.0 Client.",
    client_secret: "Client Secret",
    client_secret_once: "The Client Secret will no longer appear once you click Done. For your records, please copy this Client Secret to a secure location. If you lose this Client Secret you will need to regenerate a new one.",
    get_new_credentials: "Get new credentials",
    oauth_not_active: "While it is possible to define OAuth 2.0 clients and secrets at any time, these will not become available until you select OAuth 2.0 Client Credentials on the Authentication Settings page.",
    scopes: "Scopes",
    redirect_uris: "Redirect URIs", // not in 000–002 (004: "Redirection URI")
    redirect_uris_hint: "One per line, matched exactly.", // not in the seeds
    domain: "Domain", // not in 000–002 (004: "a domain from where the API requests will come")
    domain_hint: "The domain signed requests come from (optional).", // not in the seeds
    public_client: "Public client (no secret; PKCE)", // not in the seeds
    public_client_hint: "For applications that cannot keep a secret, such as a single-page or mobile app.", // not in the seeds
    fapi2_client: "FAPI 2.0 profile", // not in the seeds
    fapi2_client_hint: "Pushed authorization requests, DPoP-bound tokens and authentication with keys (private_key_jwt) are required; for confidential clients only.", // not in the seeds
    client_keys: "Public keys (private_key_jwt)", // not in the seeds
    jwks: "JWKS", // not in the seeds
    jwks_hint: "Instead of a secret, the client signs an assertion with one of these keys: a JWK Set, {\"keys\": [...]}, of at most 5 public keys (ES256, PS256 or Ed25519). Left empty: unchanged.", // not in the seeds
    jwks_uri: "JWKS URL", // not in the seeds
    jwks_uri_hint: "Or the https URL where the client publishes its JWK Set (fetched now, and refused unless it holds a usable key; then cached for minutes). Give a JWKS or a JWKS URL, not both.", // not in the seeds
    keys_badge: "private_key_jwt", // not in the seeds
    edit: "Edit", // not in the seeds
    no_oauth_clients: "No OAuth 2.0 clients yet.", // not in the seeds

    settings_title: "Authentication Settings",
    settings_intro: "The Authentication Settings page allows you to define the authentication method to be used when using REST API calls to connect to keygate.",
    settings_instruction: "Select your preferred authentication method.",
    method_api_key: "API Key and/or Client App credentials",
    method_oauth: "OAuth 2.0 Client Credentials",
    settings_after: "Using the menu, navigate to the configuration page for the authentication method you selected.",
    settings_exclusive: "The authentication method used when making the API calls is determined by the authentication method that you select. This means that if OAuth 2.0 Client Credentials is selected, you will not be allowed to make any API calls using the API Key or API Token, and vice versa.",
    settings_saved: "The authentication method has been saved.", // not in the seeds

    events_intro: "keygate enables integrators to be automatically notified of events that concern their account. On selected events, the system automatically issues messages to a destination of the integrator's choice. Before keygate notifies you of an event, you must register to be notified of it.",
    callback_url: "Callback URL",
    required: "This is a required field.",
    auth_method: "Authentication Method", // not in 000 (002: "méthode d'authentification")
    auth_method_help: "Depending on the method selected, different configurations can be set.", // from 002
    auth_none: "None", // from 002
    auth_none_help: "Only a Callback URL is required.", // from 002
    auth_basic: "Basic", // from 002
    auth_basic_help: "Enter a secure Callback Key.",
    callback_key: "Callback Key",
    auth_oauth: "OAuth 2.0",
    auth_oauth_help: "If OAuth 2.0 is selected, additional configuration is required.", // from 002
    oauth_client_id: "Client ID",
    oauth_client_id_help: "Configured in your authorization server for the application.", // from 002
    oauth_client_secret: "Client Secret",
    oauth_server_url: "Authorization Server URL",
    oauth_server_url_help: "URL of your authorization server for the application.", // from 002
    scope: "Scope",
    scope_help: "Used to limit access to an account; configured in the authorization server for the application. This information must be provided by the user.", // from 002
    secret_kept: "Saved. Leave empty to keep it, or enter a new value to replace it.", // not in the seeds
    select_events: "Select Events",
    toggle_help: "Toggle On the event types for which you want to be notified. By default, notifications for all event types are disabled.",
    account_events: "Account-generated events", // from 002
    participant_events: "Participant-generated events", // from 002
    revert: "REVERT",
    revert_help: "If you've changed your mind, and want to disable all event notifications, click REVERT.",
    callback_saved: "The event notification settings have been saved.", // not in the seeds
    reverted: "All event notifications are disabled.", // not in the seeds
    signing_secret: "Signing Secret", // not in the seeds
    signing_secret_help: "Every notification is signed with this secret (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature). After a rotation the previous secret keeps signing for the grace period, so receivers roll over without a gap.", // not in the seeds
    rotate_grace: "Previous secret keeps signing for", // not in the seeds
    extra_endpoints: "Additional endpoints", // not in the seeds
    extra_endpoints_help: "More destinations, each with its own events, authentication and signing secret.", // not in the seeds
    add_endpoint: "Add endpoint", // not in the seeds
    no_endpoints: "No additional endpoints.", // not in the seeds
    url: "URL",
    events: "Events",
    recent_deliveries: "Recent deliveries", // not in the seeds
    recent_deliveries_help: "The most recent notifications, newest first, with what became of each at each endpoint: where to look when a notification does not arrive, and where to send it again.", // not in the seeds
    no_deliveries: "No notifications yet.", // not in the seeds
    when: "When", // not in the seeds
    event: "Event",
    event_id: "Event ID", // not in the seeds
    endpoint: "Endpoint", // not in the seeds
    attempt: "Attempt", // not in the seeds
    outcome: "Outcome", // not in the seeds
    latency: "Time", // not in the seeds
    delivered: "Delivered", // not in the seeds
    failed: "Failed", // not in the seeds
    primary_endpoint: "Callback URL",
    pending: "Pending", // not in the seeds
    attempts: "Attempts", // not in the seeds
    resend: "Resend", // not in the seeds
    resend_queued: "The notification will be sent again, with its original webhook-id.", // not in the seeds
    recover_since: "Recover since", // not in the seeds
    recover_help: "Sends an endpoint every notification it did not receive since that time (failed, given up, or sent while it was disabled), oldest first, and enables it again if it was disabled.", // not in the seeds
    since_utc: "Since (UTC)", // not in the seeds
    recover: "Recover", // not in the seeds
    recovery_queued: "{n} notifications will be sent again, oldest first.", // not in the seeds
    operational_events: "Operational events", // not in the seeds
    rate_limit: "Rate limit (deliveries per second)", // not in the seeds
    rate_limit_help: "Optional. Deliveries beyond it wait their turn; none is lost.", // not in the seeds

    sign_in_title: "Sign in to the console", // not in the seeds
    sign_in_body: "Open the console with a sign-in link: ask keygate for a user authentication token (POST /api/authenticationTokens/user) and open /auth?authenticationToken=<token>&target=/admin/api-access.", // not in the seeds
    not_allowed_title: "You cannot use the console", // not in the seeds
    not_allowed_body: "The console is for the account owner, and for users whose role grants API Access when roles and permissions are on.", // not in the seeds
    integration_session_title: "This session cannot open the console", // not in the seeds
    integration_session_body: "This session was opened with an authentication token that an integration (a client app or an OAuth client) minted. Such a session reaches the platform only: it cannot open the console, manage the account or mint tokens. Sign in with a token minted with your API key.", // not in the seeds
    csrf_title: "This form has expired", // not in the seeds
    csrf_body: "The form was not sent from this session's page. Go back, reload the page and try again.", // not in the seeds
    signed_out: "You are signed out.", // not in the seeds
};

pub static FR: Words = Words {
    admin: "Admin",
    api_access: "Accès à l'API",
    authentication: "Paramètres d'authentification", // not in the seeds (001 has no French)
    event_notification: "Notifications d'événements",
    sign_out: "Se déconnecter", // not in the seeds
    skip: "Aller au contenu", // not in the seeds
    other_language: "English",
    save: "Enregistrer",
    add: "Ajouter",
    create: "Créer",
    done: "Terminé",
    view: "Afficher",
    hide: "Masquer", // not in the seeds
    copy: "Copier",
    copied: "Copié", // not in the seeds
    delete: "Supprimer", // not in the seeds
    revoke: "Révoquer",
    rotate: "Renouveler",
    name: "Nom",
    actions: "Actions", // not in the seeds
    created: "Créé le", // not in the seeds
    owner_only: "Seul le propriétaire du compte peut modifier ce paramètre.", // not in the seeds
    error_title: "L'opération n'a pas abouti", // not in the seeds
    done_title: "Enregistré", // not in the seeds

    api_access_intro: "Les clients peuvent communiquer avec keygate à partir de leur propre système via des appels API REST. Le système peut authentifier ces appels en utilisant l'une des techniques suivantes\u{a0}:",
    api_key: "Clé API",
    api_key_masked: "Par défaut, votre clé API est masquée.",
    api_key_owner_only: "Seul le propriétaire d'un compte peut consulter une clé API.",
    api_key_recommend: "Bien que les clés API puissent être utilisées avec keygate, nous vous recommandons d'utiliser plutôt les applications clients. Les applications clients sont plus flexibles et contribuent à réduire le nombre de failles de sécurité potentielles.",
    regenerate: "Régénérer", // not in the seeds
    regenerate_confirm: "Je comprends que la clé actuelle cesse de fonctionner immédiatement et que toutes les intégrations qui l'utilisent doivent être mises à jour.", // not in the seeds
    regenerated: "Votre nouvelle clé API. Elle remplace la précédente, qui ne fonctionne plus.", // not in the seeds
    client_apps: "Applications clients",
    client_apps_intro: "Avant que les intégrateurs puissent effectuer des requêtes via les API REST ou les fonctions SDK, keygate exige que les utilisateurs enregistrent une application client ou fournissent une clé API sécurisée pour authentifier les appels API.",
    create_client_app: "Créer une application client",
    name_hint: "Saisissez un nom pour l'application client.",
    client_id: "ID client",
    secret: "Secret",
    copy_codes: "Copiez l'ID client et les codes secrets qui apparaissent.",
    store_codes: "Conservez l'ID client et les codes secrets dans un endroit sûr.",
    secret_once: "Le secret n'apparaîtra plus une fois que vous aurez cliqué sur Terminé. Pour vos dossiers, veuillez copier ce secret dans un endroit sûr.",
    codes_purpose: "L'ID et le secret du client sont utilisés pour récupérer le jeton temporaire de l'API.",
    client_apps_lifecycle: "Avec les applications client, l'accès peut être créé, renouvelé ou révoqué selon les besoins.",
    new_secret: "Un nouveau secret a été généré. Il n'apparaîtra plus une fois que vous aurez cliqué sur Terminé.", // not in the seeds
    no_client_apps: "Aucune application client pour l'instant.", // not in the seeds
    oauth: "OAuth 2.0",
    oauth_intro: "OAuth 2.0 est le protocole standard du secteur pour l'autorisation en ligne. keygate le prend en charge avec l'octroi par identifiants client, et avec l'octroi par code d'autorisation (avec PKCE) pour les applications qu'un utilisateur approuve.", // not in the seeds
    authorization_server_url: "URL du serveur d'autorisation",
    server_url_help: "L'URL du serveur d'autorisation est fournie par keygate et ne peut pas être modifiée. Copiez l'URL affichée\u{a0}: elle sera nécessaire pour les paramètres de votre intégration.", // not in the seeds
    create_oauth_client: "Créer un client OAuth 2.0", // not in the seeds
    oauth_name_hint: "Saisissez un nom pour le client OAuth 2.0.", // not in the seeds
    client_secret: "Secret du client",
    client_secret_once: "Le secret du client n'apparaîtra plus une fois que vous aurez cliqué sur Terminé. Pour vos dossiers, veuillez copier ce secret du client dans un endroit sûr. Si vous perdez ce secret du client, vous devrez en générer un nouveau.", // not in the seeds
    get_new_credentials: "Obtenir de nouveaux identifiants", // not in the seeds
    oauth_not_active: "Vous pouvez définir des clients et des secrets OAuth 2.0 à tout moment, mais ils ne seront utilisables qu'une fois «\u{a0}Identifiants client OAuth 2.0\u{a0}» sélectionné dans la page Paramètres d'authentification.", // not in the seeds
    scopes: "Champs d'application",
    redirect_uris: "URI de redirection", // not in the seeds
    redirect_uris_hint: "Une par ligne, comparée à l'identique.", // not in the seeds
    domain: "Domaine", // not in the seeds
    domain_hint: "Le domaine d'où viennent les requêtes signées (facultatif).", // not in the seeds
    public_client: "Client public (sans secret\u{a0}; PKCE)", // not in the seeds
    public_client_hint: "Pour les applications qui ne peuvent pas garder de secret, comme une application monopage ou mobile.", // not in the seeds
    fapi2_client: "Profil FAPI 2.0", // not in the seeds
    fapi2_client_hint: "Les demandes d'autorisation poussées, les jetons liés par DPoP et l'authentification par clés (private_key_jwt) sont exigés\u{a0}; pour les clients confidentiels seulement.", // not in the seeds
    client_keys: "Clés publiques (private_key_jwt)", // not in the seeds
    jwks: "JWKS", // not in the seeds
    jwks_hint: "Au lieu d'un secret, le client signe une assertion avec l'une de ces clés\u{a0}: un JWK Set, {\"keys\": [...]}, d'au plus 5 clés publiques (ES256, PS256 ou Ed25519). Laissé vide\u{a0}: inchangé.", // not in the seeds
    jwks_uri: "URL du JWKS", // not in the seeds
    jwks_uri_hint: "Ou l'URL https où le client publie son JWK Set (récupéré tout de suite, et refusé s'il n'a aucune clé utilisable ; puis gardé quelques minutes). Un JWKS ou une URL de JWKS, pas les deux.", // not in the seeds
    keys_badge: "private_key_jwt", // not in the seeds
    edit: "Modifier", // not in the seeds
    no_oauth_clients: "Aucun client OAuth 2.0 pour l'instant.", // not in the seeds

    settings_title: "Paramètres d'authentification", // not in the seeds
    settings_intro: "Cette page vous permet de définir la méthode d'authentification utilisée par les appels API REST pour se connecter à keygate.", // not in the seeds
    settings_instruction: "Sélectionnez votre méthode d'authentification préférée.",
    method_api_key: "Clé API et/ou identifiants d'application client", // not in the seeds
    method_oauth: "Identifiants client OAuth 2.0", // not in the seeds
    settings_after: "À l'aide du menu, accédez à la page de configuration de la méthode d'authentification sélectionnée.", // not in the seeds
    settings_exclusive: "La méthode d'authentification des appels API est celle que vous sélectionnez. Si «\u{a0}Identifiants client OAuth 2.0\u{a0}» est sélectionné, aucun appel API ne sera accepté avec la clé API ou un jeton d'API, et inversement.", // not in the seeds
    settings_saved: "La méthode d'authentification a été enregistrée.", // not in the seeds

    events_intro: "keygate permet aux intégrateurs d'être automatiquement informés des événements qui concernent leur compte. Lors d'événements sélectionnés, le système émet automatiquement des messages vers une destination choisie par l'intégrateur. Avant que keygate ne vous informe d'un événement, vous devez vous inscrire pour en être informé.",
    callback_url: "URL de rappel",
    required: "Ce champ est obligatoire.",
    auth_method: "Méthode d'authentification",
    auth_method_help: "Selon la méthode sélectionnée, différentes configurations peuvent être définies.",
    auth_none: "Aucun",
    auth_none_help: "Seule une URL de rappel est requise.",
    auth_basic: "Basique",
    auth_basic_help: "Saisissez une clé de rappel sécurisée.",
    callback_key: "Clé de rappel",
    auth_oauth: "OAuth 2.0",
    auth_oauth_help: "Si OAuth 2.0 est sélectionné, des configurations supplémentaires sont nécessaires.",
    oauth_client_id: "ID du client",
    oauth_client_id_help: "Configuré dans votre serveur d'autorisation pour l'application.",
    oauth_client_secret: "Secret du client",
    oauth_server_url: "URL du serveur d'autorisation",
    oauth_server_url_help: "URL de votre serveur d'autorisation pour l'application.",
    scope: "Champ d'application",
    scope_help: "Permet de limiter l'accès à un compte, configuré dans le serveur d'autorisation de l'application. Ces informations doivent être fournies par l'utilisateur.",
    secret_kept: "Enregistré. Laissez vide pour le conserver, ou saisissez une nouvelle valeur pour le remplacer.", // not in the seeds
    select_events: "Sélectionner les événements", // not in the seeds
    toggle_help: "Si vous le souhaitez, vous pouvez activer les types d'événements, générés par Compte ou par Participant, pour lesquels vous souhaitez être informé. Par défaut, les notifications pour tous les types d'événements sont désactivées.",
    account_events: "Événements générés par le compte",
    participant_events: "Événements générés par les participants",
    revert: "RÉTABLIR",
    revert_help: "Si vous avez changé d'avis et souhaitez désactiver toutes les notifications d'événements, cliquez sur RÉTABLIR.",
    callback_saved: "Les paramètres de notification d'événements ont été enregistrés.", // not in the seeds
    reverted: "Toutes les notifications d'événements sont désactivées.", // not in the seeds
    signing_secret: "Secret de signature", // not in the seeds
    signing_secret_help: "Chaque notification est signée avec ce secret (Standard Webhooks\u{a0}: webhook-id, webhook-timestamp, webhook-signature). Après un renouvellement, le secret précédent continue de signer pendant le délai de grâce, pour que les destinataires passent de l'un à l'autre sans interruption.", // not in the seeds
    rotate_grace: "Le secret précédent continue de signer pendant", // not in the seeds
    extra_endpoints: "Destinations supplémentaires", // not in the seeds
    extra_endpoints_help: "D'autres destinations, chacune avec ses événements, son authentification et son secret de signature.", // not in the seeds
    add_endpoint: "Ajouter une destination", // not in the seeds
    no_endpoints: "Aucune destination supplémentaire.", // not in the seeds
    url: "URL",
    events: "Événements",
    recent_deliveries: "Livraisons récentes", // not in the seeds
    recent_deliveries_help: "Les notifications les plus récentes, de la plus récente à la plus ancienne, avec ce qu'il est advenu de chacune à chaque destination\u{a0}: l'endroit où regarder quand une notification n'arrive pas, et d'où l'envoyer de nouveau.", // not in the seeds
    no_deliveries: "Aucune notification pour l'instant.", // not in the seeds
    when: "Date", // not in the seeds
    event: "Événement",
    event_id: "ID de l'événement", // not in the seeds
    endpoint: "Destination", // not in the seeds
    attempt: "Tentative", // not in the seeds
    outcome: "Résultat", // not in the seeds
    latency: "Durée", // not in the seeds
    delivered: "Livrée", // not in the seeds
    failed: "Échec", // not in the seeds
    primary_endpoint: "URL de rappel",
    pending: "En attente", // not in the seeds
    attempts: "Tentatives", // not in the seeds
    resend: "Renvoyer", // not in the seeds
    resend_queued: "La notification sera envoyée de nouveau, avec son webhook-id d'origine.", // not in the seeds
    recover_since: "Récupérer depuis", // not in the seeds
    recover_help: "Envoie à une destination chaque notification qu'elle n'a pas reçue depuis ce moment (en échec, abandonnée, ou envoyée pendant qu'elle était désactivée), de la plus ancienne à la plus récente, et la réactive si elle était désactivée.", // not in the seeds
    since_utc: "Depuis (UTC)", // not in the seeds
    recover: "Récupérer", // not in the seeds
    recovery_queued: "{n}\u{a0}notifications seront envoyées de nouveau, de la plus ancienne à la plus récente.", // not in the seeds
    operational_events: "Événements opérationnels", // not in the seeds
    rate_limit: "Limite de débit (livraisons par seconde)", // not in the seeds
    rate_limit_help: "Facultatif. Les livraisons au-delà attendent leur tour\u{a0}; aucune n'est perdue.", // not in the seeds

    sign_in_title: "Connectez-vous à la console", // not in the seeds
    sign_in_body: "Ouvrez la console avec un lien de connexion\u{a0}: demandez à keygate un jeton d'authentification d'utilisateur (POST /api/authenticationTokens/user) et ouvrez /auth?authenticationToken=<jeton>&target=/admin/api-access.", // not in the seeds
    not_allowed_title: "Vous ne pouvez pas utiliser la console", // not in the seeds
    not_allowed_body: "La console est réservée au propriétaire du compte et, lorsque les rôles et autorisations sont activés, aux utilisateurs dont le rôle accorde l'accès à l'API.", // not in the seeds
    integration_session_title: "Cette session ne peut pas ouvrir la console", // not in the seeds
    integration_session_body: "Cette session a été ouverte avec un jeton d'authentification émis par une intégration (une application cliente ou un client OAuth). Une telle session n'accède qu'à la plateforme : elle ne peut ni ouvrir la console, ni gérer le compte, ni émettre de jetons. Connectez-vous avec un jeton émis avec votre clé API.", // not in the seeds
    csrf_title: "Ce formulaire a expiré", // not in the seeds
    csrf_body: "Le formulaire n'a pas été envoyé depuis la page de cette session. Revenez en arrière, rechargez la page et réessayez.", // not in the seeds
    signed_out: "Vous êtes déconnecté.", // not in the seeds
};
