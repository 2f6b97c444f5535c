//! Pages and files: an askama template as an HTML response with its status ([`html`],
//! [`render`]), and the static files compiled into the binary ([`static_file`],
//! [`asset`]), which browsers may cache for an hour (the security headers leave a
//! handler's own `Cache-Control` alone).

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get};

/// How long browsers keep a static file.
pub const STATIC_CACHE: &str = "public, max-age=3600";

/// The page, or the template's error (for a site that words its own 500).
pub fn html(status: StatusCode, t: &impl Template) -> Result<Response, askama::Error> {
    t.render().map(|page| (status, Html(page)).into_response())
}

/// The page; a template that fails is logged and answered with a bare 500.
pub fn render(status: StatusCode, t: &impl Template) -> Response {
    html(status, t).unwrap_or_else(|e| {
        tracing::error!("template: {e}");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })
}

/// A static file with its content type.
pub fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, STATIC_CACHE),
        ],
        body,
    )
        .into_response()
}

/// The `GET` route of a static file:
/// `.route("/static/site.css", asset("text/css", include_str!("../static/site.css")))`.
pub fn asset<S>(content_type: &'static str, body: &'static str) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    get(move || async move { static_file(content_type, body) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    #[derive(Template)]
    #[template(source = "<p>{{ name }}</p>", ext = "html")]
    struct Hello<'a> {
        name: &'a str,
    }

    async fn text(resp: Response) -> String {
        let bytes = to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn pages_are_html_with_their_status_and_escaped() {
        let resp = render(StatusCode::NOT_FOUND, &Hello { name: "<b>x</b>" });
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert!(
            resp.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(text(resp).await, "<p>&#60;b&#62;x&#60;/b&#62;</p>");
        let resp = html(StatusCode::OK, &Hello { name: "ann" }).unwrap();
        assert_eq!(text(resp).await, "<p>ann</p>");
    }

    #[tokio::test]
    async fn static_files_carry_their_type_and_may_be_cached() {
        let app: Router = Router::new().route("/static/a.css", asset("text/css", "p{}"));
        let resp = app
            .oneshot(Request::get("/static/a.css").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/css");
        assert_eq!(resp.headers()[header::CACHE_CONTROL], STATIC_CACHE);
        assert_eq!(text(resp).await, "p{}");
    }
}
