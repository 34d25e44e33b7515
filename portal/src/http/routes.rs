//! Every route the server answers, each with what it requires. A route cannot be added
//! without saying who may call it: [`Routes::add`] takes the [`Access`] and puts the gate
//! (`guard.rs`) in front of the handler, and [`route_table`] is what the route tests sweep.

use super::guard::{Guard, guard};
use super::{AppState, assets};
use crate::auth::Permission::{self, *};
use crate::auth::SessionStage;
use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};
use std::convert::Infallible;
use tower_http::limit::RequestBodyLimitLayer;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health checks, static assets, and machine endpoints whose body carries the
    /// credential (enrolment codes, reset tokens). No cookie is looked at.
    Public,
    /// A browser form shown before sign-in; its posts need the pre-session CSRF token.
    PublicForm,
    /// An agent's bearer token, checked by the handler against the agent table.
    Agent,
    /// A signed-in browser session at one of these stages (the sign-in steps themselves).
    During(&'static [SessionStage]),
    /// Any fully signed-in user (their own profile, sessions, tokens).
    SignedIn,
    /// Signed in and holding this permission.
    Permission(Permission),
}

/// How large a request body may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// HTML forms: 64 KiB.
    Form,
    /// JSON requests: `max_body_bytes`.
    Json,
    /// Agent batches, raw e-mail, photos: `max_upload_bytes`.
    Upload,
}

impl BodyLimit {
    /// The limit of an ordinary request: JSON under `/api/`, a form elsewhere.
    fn of(path: &str) -> BodyLimit {
        if path.starts_with("/api/") {
            BodyLimit::Json
        } else {
            BodyLimit::Form
        }
    }
}

/// One route as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub limit: BodyLimit,
}

const FORM_LIMIT: usize = 64 * 1024;
const ANY_STAGE: &[SessionStage] = &[
    SessionStage::Complete,
    SessionStage::NeedsSecondFactor,
    SessionStage::NeedsEnrolment,
];
const SECOND_FACTOR_DUE: &[SessionStage] = &[SessionStage::NeedsSecondFactor];
const MAY_ENROL: &[SessionStage] = &[SessionStage::Complete, SessionStage::NeedsEnrolment];

struct Routes {
    state: AppState,
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl Routes {
    fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        limit: BodyLimit,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        let gate = Guard {
            state: self.state.clone(),
            access,
            path,
        };
        let bytes = match limit {
            BodyLimit::Form => FORM_LIMIT,
            BodyLimit::Json => self.state.config.max_body_bytes,
            BodyLimit::Upload => self.state.config.max_upload_bytes,
        };
        let route = on(filter, handler)
            .layer::<_, Infallible>(axum::middleware::from_fn_with_state(gate, guard))
            .layer::<_, Infallible>(RequestBodyLimitLayer::new(bytes));
        self.router = self.router.route(path, route);
        self.specs.push(RouteSpec {
            method,
            path,
            access,
            limit,
        });
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        self.add(Method::GET, path, access, BodyLimit::of(path), h)
    }

    /// A form post (pages) or a JSON post (`/api/`).
    fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        self.add(Method::POST, path, access, BodyLimit::of(path), h)
    }

    fn put<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        self.add(Method::PUT, path, access, BodyLimit::of(path), h)
    }

    fn delete<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        self.add(Method::DELETE, path, access, BodyLimit::of(path), h)
    }

    fn upload<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        self.add(Method::POST, path, access, BodyLimit::Upload, h)
    }
}

/// The routes, and the router that serves them.
pub fn route_table(state: &AppState) -> (Router<AppState>, Vec<RouteSpec>) {
    use crate::{
        agents, audit, auth, billing, contracts, dashboard, equipment, mail, notifications, photos,
        profile, readings, requests, review, roles, supplies, tenants, users,
    };
    use Access::{Agent, During, Public, PublicForm, SignedIn};
    let p = Access::Permission;
    let r = Routes {
        state: state.clone(),
        router: Router::new(),
        specs: Vec::new(),
    }
    // the process and its assets
    .get("/healthz", Public, super::healthz)
    .get("/readyz", Public, super::readyz)
    .get("/assets/app.css", Public, assets::css)
    .get("/assets/app.js", Public, assets::app_js)
    .get("/assets/htmx.min.js", Public, assets::htmx)
    .get("/assets/htmx-sse.min.js", Public, assets::htmx_sse)
    // signing in
    .get("/sign-in", PublicForm, auth::pages::sign_in_form)
    .post("/sign-in", PublicForm, auth::pages::sign_in)
    .get(
        "/sign-in/second-factor",
        During(SECOND_FACTOR_DUE),
        auth::pages::second_factor_form,
    )
    .post(
        "/sign-in/second-factor",
        During(SECOND_FACTOR_DUE),
        auth::pages::second_factor,
    )
    .post("/sign-out", During(ANY_STAGE), auth::pages::sign_out)
    .get("/password-reset", PublicForm, auth::pages::forgot_form)
    .post("/password-reset", PublicForm, auth::pages::forgot)
    .get(
        "/password-reset/confirm",
        PublicForm,
        auth::pages::reset_form,
    )
    .post("/password-reset/confirm", PublicForm, auth::pages::reset)
    .post("/api/v1/password-reset", Public, auth::http::forgot)
    .post("/api/v1/password-reset/confirm", Public, auth::http::reset)
    .get("/invitations/accept", PublicForm, users::pages::accept_form)
    .post("/invitations/accept", PublicForm, users::pages::accept)
    // the signed-in user's own things
    .get("/", SignedIn, dashboard::pages::home)
    .get("/api/v1/dashboard", SignedIn, dashboard::http::get)
    .get("/profile", SignedIn, profile::pages::show)
    .post("/profile", SignedIn, profile::pages::update)
    .post(
        "/profile/password",
        SignedIn,
        profile::pages::change_password,
    )
    .post(
        "/profile/sessions/end-all",
        SignedIn,
        profile::pages::end_all_sessions,
    )
    .get(
        "/profile/two-factor",
        During(MAY_ENROL),
        profile::pages::two_factor_form,
    )
    .post(
        "/profile/two-factor",
        During(MAY_ENROL),
        profile::pages::two_factor_confirm,
    )
    .post(
        "/profile/two-factor/disable",
        SignedIn,
        profile::pages::two_factor_disable,
    )
    .post("/profile/tokens", SignedIn, profile::pages::create_token)
    .post(
        "/profile/tokens/{api_token}/revoke",
        SignedIn,
        profile::pages::revoke_token,
    )
    .get("/profile/export", SignedIn, profile::http::export)
    .get("/api/v1/me", SignedIn, profile::http::me)
    .put("/api/v1/me", SignedIn, profile::http::update)
    .post(
        "/api/v1/me/password",
        SignedIn,
        profile::http::change_password,
    )
    .get("/api/v1/me/sessions", SignedIn, profile::http::sessions)
    .delete(
        "/api/v1/me/sessions",
        SignedIn,
        profile::http::end_all_sessions,
    )
    .get("/api/v1/me/export", SignedIn, profile::http::export)
    .get("/api/v1/me/api-tokens", SignedIn, profile::http::tokens)
    .post(
        "/api/v1/me/api-tokens",
        SignedIn,
        profile::http::create_token,
    )
    .delete(
        "/api/v1/me/api-tokens/{api_token}",
        SignedIn,
        profile::http::revoke_token,
    )
    // service requests
    .get("/requests", p(RequestsRead), requests::pages::list)
    .get(
        "/requests/new",
        p(RequestsCreate),
        requests::pages::new_form,
    )
    .upload("/requests/new", p(RequestsCreate), requests::pages::create)
    .get(
        "/requests/{request}",
        p(RequestsRead),
        requests::pages::detail,
    )
    .post(
        "/requests/{request}/comment",
        p(RequestsRead),
        requests::pages::comment,
    )
    .post(
        "/requests/{request}/status",
        p(RequestsRead),
        requests::pages::status,
    )
    .post(
        "/requests/{request}/assign",
        p(RequestsManage),
        requests::pages::assign,
    )
    .post(
        "/requests/{request}/schedule",
        p(RequestsManage),
        requests::pages::schedule,
    )
    .get(
        "/requests/{request}/files/{file}",
        p(RequestsRead),
        requests::pages::file,
    )
    .get(
        "/requests/{request}/files/{file}/preview",
        p(RequestsRead),
        requests::pages::file_preview,
    )
    .get("/dispatch", p(RequestsManage), requests::pages::dispatch)
    .get("/api/v1/requests", p(RequestsRead), requests::http::list)
    .post(
        "/api/v1/requests",
        p(RequestsCreate),
        requests::http::create,
    )
    .get(
        "/api/v1/requests/{request}",
        p(RequestsRead),
        requests::http::get,
    )
    .upload(
        "/api/v1/requests/{request}/attachments",
        p(RequestsCreate),
        requests::http::attach,
    )
    .post(
        "/api/v1/requests/{request}/comments",
        p(RequestsRead),
        requests::http::comment,
    )
    .post(
        "/api/v1/requests/{request}/status",
        p(RequestsRead),
        requests::http::status,
    )
    .put(
        "/api/v1/requests/{request}/assignment",
        p(RequestsManage),
        requests::http::assign,
    )
    .put(
        "/api/v1/requests/{request}/schedule",
        p(RequestsManage),
        requests::http::schedule,
    )
    // invoices
    .get("/invoices", p(InvoicesRead), billing::pages::list)
    .get(
        "/invoices/{invoice}",
        p(InvoicesRead),
        billing::pages::detail,
    )
    .get(
        "/invoices/{invoice}/csv",
        p(InvoicesRead),
        billing::pages::csv,
    )
    .get("/api/v1/invoices", p(InvoicesRead), billing::http::list)
    .get(
        "/api/v1/invoices/{invoice}",
        p(InvoicesRead),
        billing::http::get,
    )
    .get(
        "/api/v1/invoices/{invoice}/csv",
        p(InvoicesRead),
        billing::http::csv,
    )
    .post(
        "/sandbox-gateway/tokens",
        Public,
        billing::http::sandbox_token,
    )
    .get("/sandbox-gateway/card", Public, billing::http::sandbox_page)
    .post(
        "/sandbox-gateway/card",
        Public,
        billing::http::sandbox_submit,
    )
    .get(
        "/invoices/{invoice}/pdf",
        p(InvoicesRead),
        billing::pages::pdf,
    )
    .post(
        "/invoices/{invoice}/pay",
        p(PaymentsMake),
        billing::pages::pay,
    )
    .get("/payments", p(InvoicesRead), billing::pages::payments)
    .get(
        "/payments/{payment}/receipt",
        p(InvoicesRead),
        billing::pages::receipt,
    )
    .get(
        "/payment-methods/new",
        p(PaymentsMake),
        billing::pages::new_method,
    )
    .post(
        "/payment-methods",
        p(PaymentsMake),
        billing::pages::add_method,
    )
    .post(
        "/api/v1/webhooks/stripe",
        Public,
        billing::http::stripe_webhook,
    )
    .get(
        "/api/v1/payment-methods",
        p(PaymentsMake),
        billing::http::methods,
    )
    .post(
        "/api/v1/payment-methods",
        p(PaymentsMake),
        billing::http::add_method,
    )
    .get("/api/v1/payments", p(InvoicesRead), billing::http::payments)
    .post("/api/v1/payments", p(PaymentsMake), billing::http::pay)
    .put("/api/v1/autopay", p(PaymentsMake), billing::http::autopay)
    .post(
        "/api/v1/payments/wire",
        p(PaymentsManage),
        billing::http::record_wire,
    )
    .post(
        "/api/v1/contracts",
        p(InvoicesManage),
        contracts::http::create,
    )
    .get(
        "/api/v1/contracts/{contract}",
        p(InvoicesManage),
        contracts::http::get,
    )
    .get(
        "/api/v1/contracts/{contract}/invoice-preview",
        p(InvoicesManage),
        billing::http::preview,
    )
    .post(
        "/api/v1/contracts/{contract}/invoices",
        p(InvoicesManage),
        billing::http::issue,
    )
    // supplies: the catalogue, ordering, orders
    .get("/supplies", p(OrdersCreate), supplies::pages::shop)
    .get("/cart", p(OrdersCreate), supplies::pages::show_cart)
    .post("/cart", p(OrdersCreate), supplies::pages::add)
    .post("/cart/clear", p(OrdersCreate), supplies::pages::clear_cart)
    .post("/cart/checkout", p(OrdersCreate), supplies::pages::checkout)
    .get("/api/v1/cart", p(OrdersCreate), supplies::http::cart)
    .put("/api/v1/cart", p(OrdersCreate), supplies::http::set_cart)
    .delete("/api/v1/cart", p(OrdersCreate), supplies::http::clear_cart)
    .post(
        "/api/v1/cart/checkout",
        p(OrdersCreate),
        supplies::http::cart_checkout,
    )
    .get("/orders", p(OrdersRead), supplies::pages::list)
    .get("/orders/{order}", p(OrdersRead), supplies::pages::detail)
    .post(
        "/orders/{order}/status",
        p(OrdersRead),
        supplies::pages::step,
    )
    .get(
        "/admin/catalogue",
        p(CatalogueManage),
        supplies::pages::catalogue_show,
    )
    .get(
        "/admin/catalogue.csv",
        p(CatalogueManage),
        supplies::pages::catalogue_csv,
    )
    .upload(
        "/admin/catalogue/import",
        p(CatalogueManage),
        supplies::pages::catalogue_import,
    )
    .get(
        "/api/v1/catalogue",
        p(CatalogueManage),
        supplies::http::catalogue,
    )
    .post(
        "/api/v1/catalogue",
        p(CatalogueManage),
        supplies::http::put_item,
    )
    .get(
        "/api/v1/catalogue/export",
        p(CatalogueManage),
        supplies::http::export,
    )
    .upload(
        "/api/v1/catalogue/import",
        p(CatalogueManage),
        supplies::http::import,
    )
    .get(
        "/api/v1/equipment/{equipment}/supplies",
        p(OrdersCreate),
        supplies::http::offers,
    )
    .post(
        "/api/v1/orders/quote",
        p(OrdersCreate),
        supplies::http::quote,
    )
    .post("/api/v1/orders", p(OrdersCreate), supplies::http::checkout)
    .get("/api/v1/orders", p(OrdersRead), supplies::http::list)
    .get("/api/v1/orders/{order}", p(OrdersRead), supplies::http::get)
    .post(
        "/api/v1/orders/{order}/status",
        p(OrdersRead),
        supplies::http::status,
    )
    // notifications
    .get("/notifications", SignedIn, notifications::pages::centre)
    .get(
        "/notifications/stream",
        SignedIn,
        notifications::pages::stream,
    )
    .post(
        "/notifications/read-all",
        SignedIn,
        notifications::pages::read_all,
    )
    .post(
        "/notifications/{notification}/read",
        SignedIn,
        notifications::pages::read,
    )
    .get(
        "/notifications/preferences",
        SignedIn,
        notifications::pages::preferences,
    )
    .post(
        "/notifications/preferences",
        SignedIn,
        notifications::pages::set_preferences,
    )
    .get("/api/v1/notifications", SignedIn, notifications::http::list)
    .get(
        "/api/v1/notifications/stream",
        SignedIn,
        notifications::http::stream,
    )
    .post(
        "/api/v1/notifications/read-all",
        SignedIn,
        notifications::http::read_all,
    )
    .post(
        "/api/v1/notifications/{notification}/read",
        SignedIn,
        notifications::http::read,
    )
    .get(
        "/api/v1/notifications/preferences",
        SignedIn,
        notifications::http::preferences,
    )
    .put(
        "/api/v1/notifications/preferences",
        SignedIn,
        notifications::http::set_preferences,
    )
    // people and roles
    .get("/admin/users", p(UsersRead), users::pages::list)
    .post("/admin/users/invite", p(UsersManage), users::pages::invite)
    .post(
        "/admin/users/{user}/roles",
        p(UsersManage),
        users::pages::set_roles,
    )
    .post(
        "/admin/users/{user}/disable",
        p(UsersManage),
        users::pages::disable,
    )
    .post(
        "/admin/users/{user}/enable",
        p(UsersManage),
        users::pages::enable,
    )
    .post(
        "/admin/users/{user}/erase",
        p(UsersManage),
        users::pages::erase,
    )
    .get("/api/v1/users", p(UsersRead), users::http::list)
    .get("/api/v1/users/{user}", p(UsersRead), users::http::get)
    .put(
        "/api/v1/users/{user}/roles",
        p(UsersManage),
        users::http::set_roles,
    )
    .post(
        "/api/v1/users/{user}/disable",
        p(UsersManage),
        users::http::disable,
    )
    .post(
        "/api/v1/users/{user}/enable",
        p(UsersManage),
        users::http::enable,
    )
    .post(
        "/api/v1/users/{user}/erase",
        p(UsersManage),
        users::http::erase,
    )
    .get(
        "/api/v1/invitations",
        p(UsersRead),
        users::http::invitations,
    )
    .post("/api/v1/invitations", p(UsersManage), users::http::invite)
    .get("/admin/roles", p(RolesManage), roles::pages::list)
    .post("/admin/roles", p(RolesManage), roles::pages::create)
    .get("/admin/roles/{role}", p(RolesManage), roles::pages::edit)
    .post("/admin/roles/{role}", p(RolesManage), roles::pages::update)
    .post(
        "/admin/roles/{role}/delete",
        p(RolesManage),
        roles::pages::delete,
    )
    .get(
        "/api/v1/permissions",
        p(RolesManage),
        roles::http::permissions,
    )
    .get("/api/v1/roles", p(RolesManage), roles::http::list)
    .post("/api/v1/roles", p(RolesManage), roles::http::create)
    .put("/api/v1/roles/{role}", p(RolesManage), roles::http::update)
    .delete("/api/v1/roles/{role}", p(RolesManage), roles::http::delete)
    .get(
        "/admin/security",
        p(SettingsManage),
        tenants::pages::security,
    )
    .post(
        "/admin/security",
        p(SettingsManage),
        tenants::pages::update_security,
    )
    .get(
        "/api/v1/settings/security",
        p(SettingsManage),
        tenants::http::security,
    )
    .put(
        "/api/v1/settings/security",
        p(SettingsManage),
        tenants::http::update_security,
    )
    .get("/audit", p(AuditRead), audit::pages::trail)
    .get("/api/v1/audit-log", p(AuditRead), audit::http::trail)
    // equipment and meters
    .get("/equipment", p(EquipmentRead), equipment::pages::list)
    .get(
        "/equipment/{equipment}",
        p(EquipmentRead),
        equipment::pages::detail,
    )
    .get(
        "/equipment/{equipment}/photo",
        p(ReadingsSubmit),
        photos::pages::upload_form,
    )
    .upload(
        "/equipment/{equipment}/photo",
        p(ReadingsSubmit),
        photos::pages::upload,
    )
    .post(
        "/meter-photos/{meter_photo}/confirm",
        p(ReadingsSubmit),
        photos::pages::confirm,
    )
    .get("/meters", p(ReadingsSubmit), readings::pages::meters)
    .post(
        "/meters/{equipment}",
        p(ReadingsSubmit),
        readings::pages::submit_meters,
    )
    .get(
        "/readings/{reading}/evidence",
        p(ReadingsRead),
        readings::pages::evidence,
    )
    .get("/review", p(ReadingsReview), review::pages::list)
    .post(
        "/review/{review_item}",
        p(ReadingsReview),
        review::pages::decide,
    )
    .get("/api/v1/equipment", p(EquipmentRead), equipment::http::list)
    .get(
        "/api/v1/equipment/{equipment}",
        p(EquipmentRead),
        equipment::http::get,
    )
    .get(
        "/api/v1/equipment/{equipment}/readings",
        p(ReadingsRead),
        readings::http::list,
    )
    .post(
        "/api/v1/equipment/{equipment}/readings",
        p(ReadingsSubmit),
        readings::http::submit,
    )
    .get(
        "/api/v1/readings/{reading}/evidence",
        p(ReadingsRead),
        readings::http::evidence,
    )
    .post("/api/v1/agent/enroll", Public, agents::http::enroll)
    .upload("/api/v1/agent/readings", Agent, agents::http::upload)
    .get(
        "/api/v1/review-items",
        p(ReadingsReview),
        review::http::list,
    )
    .post(
        "/api/v1/review-items/{review_item}/decision",
        p(ReadingsReview),
        review::http::decide,
    )
    .get(
        "/api/v1/discovered-devices",
        p(EquipmentManage),
        equipment::http::new_devices,
    )
    .upload(
        "/api/v1/equipment/{equipment}/meter-photos",
        p(ReadingsSubmit),
        photos::http::upload,
    )
    .post(
        "/api/v1/meter-photos/{meter_photo}/confirm",
        p(ReadingsSubmit),
        photos::http::confirm,
    )
    .get(
        "/api/v1/meter-photos/{meter_photo}/image",
        p(ReadingsRead),
        photos::http::image,
    )
    .upload("/api/v1/inbound-email", p(MailIngest), mail::http::receive);
    // the document describes every route declared above, and itself
    let mut specs = r.specs.clone();
    specs.push(RouteSpec {
        method: Method::GET,
        path: OPENAPI,
        access: Public,
        limit: BodyLimit::Json,
    });
    let document: std::sync::Arc<str> = super::openapi::document(&specs)
        .to_json()
        .unwrap_or_default()
        .into();
    let r = r.get(OPENAPI, Public, move || {
        let document = document.clone();
        async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                document.to_string(),
            )
        }
    });
    (r.router, r.specs)
}

const OPENAPI: &str = "/api/v1/openapi.json";
