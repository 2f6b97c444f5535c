//! A bounded, namespace-resolving element tree: the only way camkey reads XML from the
//! network (SOAP envelopes, WS-Discovery packets).
//!
//! [`parse`] turns at most [`Limits::max_size`] bytes of UTF-8 into one [`Element`] tree,
//! every element and attribute name resolved to its namespace URI (match by namespace,
//! never by prefix: clients pick their own prefixes). Each element keeps the namespace
//! declarations in scope at it, so QName-valued text (WS-Discovery `Types`) can be resolved
//! with [`Element::resolve_qname`].
//!
//! Hostile input gets an [`XmlError`], never a panic or unbounded work: a DOCTYPE (and so
//! any entity declaration: no XXE, no "billion laughs"), processing instructions other than
//! the XML declaration, undefined entity references, unbound prefixes, mismatched or
//! missing end tags, and anything past the [`Limits`] are refused. Only the five predefined
//! entities and character references are expanded.
//!
//! [`escape`] is the other direction: text and attribute values put into rendered XML.

use std::borrow::Cow;
use std::sync::Arc;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use thiserror::Error;

/// The namespace URI bound to the `xml` prefix (XML Namespaces 1.0 §3).
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Bounds on what [`parse`] accepts. The defaults fit every ONVIF and WS-Discovery message
/// a camera has to read, with room to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total input size in bytes (default 64 KiB).
    pub max_size: usize,
    /// Element nesting depth, the root being 1 (default 32).
    pub max_depth: usize,
    /// Number of elements in the document (default 2048).
    pub max_elements: usize,
    /// Attributes per element, namespace declarations included (default 32).
    pub max_attributes: usize,
    /// Length in bytes of one element's text or one attribute value, after entity
    /// expansion (default 16 KiB).
    pub max_text: usize,
    /// Length in bytes of a qualified name or a namespace URI (default 512).
    pub max_name: usize,
    /// Namespace prefixes in scope at one element (default 64).
    pub max_namespaces: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 64 * 1024,
            max_depth: 32,
            max_elements: 2048,
            max_attributes: 32,
            max_text: 16 * 1024,
            max_name: 512,
            max_namespaces: 64,
        }
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlError {
    /// The input is larger than [`Limits::max_size`].
    #[error("document larger than {0} bytes")]
    TooLarge(usize),
    /// Elements nest deeper than [`Limits::max_depth`].
    #[error("elements nested deeper than {0}")]
    TooDeep(usize),
    /// More elements than [`Limits::max_elements`].
    #[error("more than {0} elements")]
    TooManyElements(usize),
    /// An element has more attributes than [`Limits::max_attributes`].
    #[error("more than {0} attributes on one element")]
    TooManyAttributes(usize),
    /// Text or an attribute value longer than [`Limits::max_text`].
    #[error("text longer than {0} bytes")]
    TextTooLong(usize),
    /// A name or namespace URI longer than [`Limits::max_name`].
    #[error("name longer than {0} bytes")]
    NameTooLong(usize),
    /// More namespace prefixes in scope than [`Limits::max_namespaces`].
    #[error("more than {0} namespace prefixes in scope")]
    TooManyNamespaces(usize),
    /// The input is not UTF-8.
    #[error("document is not UTF-8")]
    NotUtf8,
    /// A construct refused outright: DOCTYPE (entity declarations), processing
    /// instructions, undefined entities.
    #[error("{0} not allowed")]
    Forbidden(&'static str),
    /// A prefix used without a declaration in scope.
    #[error("undeclared namespace prefix `{0}`")]
    UnboundPrefix(String),
    /// The input ended inside an element.
    #[error("document ends inside an element")]
    Truncated,
    /// No root element.
    #[error("no root element")]
    NoRoot,
    /// Elements or text after the root element.
    #[error("content after the root element")]
    TrailingContent,
    /// Not well-formed XML (the parser's message).
    #[error("malformed XML: {0}")]
    Malformed(String),
}

/// One attribute, its name resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Namespace URI; "" for an unprefixed attribute (attributes take no default
    /// namespace).
    pub ns: String,
    /// Local name.
    pub local: String,
    /// Value, entities expanded.
    pub value: String,
}

/// The namespace declarations in scope at an element: `(prefix, uri)`, the default
/// namespace under prefix "". Shared between elements that declare nothing new.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces(Arc<Vec<(Arc<str>, Arc<str>)>>);

impl Namespaces {
    /// The URI bound to `prefix` ("" for the default namespace); `xml` is always bound.
    pub fn get(&self, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        self.0
            .iter()
            .rev()
            .find(|(p, _)| &**p == prefix)
            .map(|(_, u)| &**u)
            .filter(|u| !(prefix.is_empty() && u.is_empty()))
    }

    /// Every declaration in scope, innermost last (a prefix may repeat: the last wins).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(p, u)| (&**p, &**u))
    }

    fn with(&self, decls: Vec<(Arc<str>, Arc<str>)>, limit: usize) -> Result<Self, XmlError> {
        if decls.is_empty() {
            return Ok(self.clone());
        }
        let mut all: Vec<(Arc<str>, Arc<str>)> = self
            .0
            .iter()
            .filter(|(p, _)| !decls.iter().any(|(q, _)| q == p))
            .cloned()
            .collect();
        all.extend(decls);
        if all.len() > limit {
            return Err(XmlError::TooManyNamespaces(limit));
        }
        Ok(Namespaces(Arc::new(all)))
    }
}

/// One element of a parsed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI, "" if none.
    pub ns: String,
    /// Local name.
    pub local: String,
    /// Attributes other than namespace declarations.
    pub attrs: Vec<Attr>,
    /// Child elements, in document order.
    pub children: Vec<Element>,
    /// The element's own text (its text and CDATA children joined, untrimmed).
    pub text: String,
    /// Namespace declarations in scope at this element (its own included).
    pub namespaces: Namespaces,
}

impl Element {
    /// Whether this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// The first child `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// Every child `{ns}local`, in order.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    /// The element's text, trimmed of XML whitespace.
    pub fn text(&self) -> &str {
        self.text.trim_matches(is_xml_space)
    }

    /// The trimmed text of the first child `{ns}local`.
    pub fn child_text(&self, ns: &str, local: &str) -> Option<&str> {
        self.child(ns, local).map(Element::text)
    }

    /// An attribute's value: `ns` `None` for an unprefixed attribute, `Some(uri)` for one
    /// in that namespace.
    pub fn attr(&self, ns: Option<&str>, local: &str) -> Option<&str> {
        let ns = ns.unwrap_or("");
        self.attrs
            .iter()
            .find(|a| a.ns == ns && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// Resolves a QName written in text or an attribute value (`prefix:local`, or `local`
    /// in the default namespace) with the declarations in scope at this element:
    /// `(namespace URI, local)`, or `None` if the prefix is not declared or the name is
    /// not a QName.
    pub fn resolve_qname(&self, qname: &str) -> Option<(String, String)> {
        let qname = qname.trim_matches(is_xml_space);
        let (prefix, local) = match qname.split_once(':') {
            Some((p, l)) => (p, l),
            None => ("", qname),
        };
        if local.is_empty() || local.contains(':') || !is_ncname(local) {
            return None;
        }
        if !prefix.is_empty() && !is_ncname(prefix) {
            return None;
        }
        let ns = match self.namespaces.get(prefix) {
            Some(u) => u.to_string(),
            None if prefix.is_empty() => String::new(),
            None => return None,
        };
        Some((ns, local.to_string()))
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Escapes text or an attribute value for rendered XML (`&`, `<`, `>`, `"`, `'`).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// An element being read: its parts before its children are complete.
struct Open {
    element: Element,
    /// Its name as written, for the end-tag check.
    qname: String,
}

/// Parses one XML document into its root [`Element`], within `limits`.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    if input.len() > limits.max_size {
        return Err(XmlError::TooLarge(limits.max_size));
    }
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = std::str::from_utf8(input).map_err(|_| XmlError::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = true;
    config.allow_unmatched_ends = false;

    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let mut seen_markup = false;
    let root_scope = Namespaces::default();
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Decl(_) if !seen_markup => {}
            Event::Decl(_) | Event::PI(_) => {
                return Err(XmlError::Forbidden("processing instruction"));
            }
            Event::DocType(_) => return Err(XmlError::Forbidden("DOCTYPE")),
            Event::Comment(_) => {}
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError::TrailingContent);
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(XmlError::TooManyElements(limits.max_elements));
                }
                if stack.len() + 1 > limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                let scope = stack.last().map_or(&root_scope, |o| &o.element.namespaces);
                let open = open_element(start, scope, limits)?;
                if matches!(event, Event::Empty(_)) {
                    close(open.element, &mut stack, &mut root);
                } else {
                    stack.push(open);
                }
            }
            Event::End(end) => {
                let open = stack
                    .pop()
                    .ok_or(XmlError::Malformed("unexpected end tag".into()))?;
                if end.name().as_ref() != open.qname {
                    return Err(XmlError::Malformed("mismatched end tag".into()));
                }
                close(open.element, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                push_text(&mut stack, &root, &content, limits)?;
            }
            Event::CData(c) => {
                let raw = c.into_inner();
                push_text(&mut stack, &root, &raw, limits)?;
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r.into_inner() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => return Err(XmlError::Forbidden("undefined entity")),
                    },
                    Err(_) => return Err(XmlError::Malformed("bad character reference".into())),
                };
                let mut buf = [0u8; 4];
                push_text(&mut stack, &root, ch.encode_utf8(&mut buf), limits)?;
            }
            Event::Eof => break,
        }
        seen_markup = true;
    }
    if !stack.is_empty() {
        return Err(XmlError::Truncated);
    }
    root.ok_or(XmlError::NoRoot)
}

fn malformed(e: quick_xml::Error) -> XmlError {
    let mut msg = e.to_string();
    if msg.len() > 120 {
        let mut cut = 120;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
    }
    XmlError::Malformed(msg)
}

fn push_text(
    stack: &mut [Open],
    root: &Option<Element>,
    content: &str,
    limits: &Limits,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(open) => {
            if open.element.text.len() + content.len() > limits.max_text {
                return Err(XmlError::TextTooLong(limits.max_text));
            }
            open.element.text.push_str(content);
            Ok(())
        }
        None if content.chars().all(is_xml_space) => Ok(()),
        None if root.is_some() => Err(XmlError::TrailingContent),
        None => Err(XmlError::Malformed("text before the root element".into())),
    }
}

fn close(element: Element, stack: &mut [Open], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.element.children.push(element),
        None => *root = Some(element),
    }
}

fn open_element(
    start: &BytesStart<'_>,
    scope: &Namespaces,
    limits: &Limits,
) -> Result<Open, XmlError> {
    let qname = start.name().as_ref().to_string();
    if qname.len() > limits.max_name {
        return Err(XmlError::NameTooLong(limits.max_name));
    }
    let mut decls: Vec<(Arc<str>, Arc<str>)> = Vec::new();
    let mut raw_attrs: Vec<(String, String)> = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError::Malformed(e.to_string()))?;
        if decls.len() + raw_attrs.len() >= limits.max_attributes {
            return Err(XmlError::TooManyAttributes(limits.max_attributes));
        }
        let key = attr.key.as_ref().to_string();
        if key.len() > limits.max_name {
            return Err(XmlError::NameTooLong(limits.max_name));
        }
        if attr.value.len() > limits.max_text {
            return Err(XmlError::TextTooLong(limits.max_text));
        }
        let value = match attr.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
            Ok(v) => v.into_owned(),
            Err(quick_xml::Error::Escape(_)) => {
                return Err(XmlError::Forbidden("undefined entity"));
            }
            Err(e) => return Err(malformed(e)),
        };
        if key == "xmlns" {
            if value.len() > limits.max_name {
                return Err(XmlError::NameTooLong(limits.max_name));
            }
            decls.push(("".into(), value.into()));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            if value.is_empty() || !is_ncname(prefix) || prefix == "xmlns" {
                return Err(XmlError::Malformed("bad namespace declaration".into()));
            }
            if value.len() > limits.max_name {
                return Err(XmlError::NameTooLong(limits.max_name));
            }
            decls.push((prefix.into(), value.into()));
        } else {
            raw_attrs.push((key, value));
        }
    }
    let namespaces = scope.with(decls, limits.max_namespaces)?;
    let (ns, local) = resolve_name(&qname, &namespaces, true)?;
    let mut attrs = Vec::with_capacity(raw_attrs.len());
    for (key, value) in raw_attrs {
        let (ns, local) = resolve_name(&key, &namespaces, false)?;
        attrs.push(Attr { ns, local, value });
    }
    Ok(Open {
        element: Element {
            ns,
            local,
            attrs,
            children: Vec::new(),
            text: String::new(),
            namespaces,
        },
        qname,
    })
}

/// Resolves an element (`default` true: the default namespace applies) or attribute name.
fn resolve_name(
    qname: &str,
    scope: &Namespaces,
    default: bool,
) -> Result<(String, String), XmlError> {
    match qname.split_once(':') {
        Some((prefix, local)) => {
            if local.is_empty() || local.contains(':') || prefix.is_empty() {
                return Err(XmlError::Malformed("bad qualified name".into()));
            }
            let ns = scope
                .get(prefix)
                .ok_or_else(|| XmlError::UnboundPrefix(prefix.chars().take(64).collect()))?;
            Ok((ns.to_string(), local.to_string()))
        }
        None if default => Ok((scope.get("").unwrap_or("").to_string(), qname.to_string())),
        None => Ok((String::new(), qname.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Element, XmlError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn resolves_prefixes_and_default_namespace() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="urn:s" xmlns="urn:d"><s:Body><Probe a="1" s:b="2">x &amp; y&#x41;<![CDATA[<z>]]></Probe></s:Body></s:Envelope>"#;
        let root = p(doc).unwrap();
        assert!(root.is("urn:s", "Envelope"));
        let body = root.child("urn:s", "Body").unwrap();
        let probe = body.child("urn:d", "Probe").unwrap();
        assert_eq!(probe.text(), "x & yA<z>");
        assert_eq!(probe.attr(None, "a"), Some("1"));
        assert_eq!(probe.attr(Some("urn:s"), "b"), Some("2"));
        assert_eq!(probe.attr(None, "b"), None);
        assert_eq!(body.children_named("urn:d", "Probe").count(), 1);
    }

    #[test]
    fn qnames_resolve_with_declarations_in_scope() {
        let doc = r#"<e:Envelope xmlns:e="urn:s" xmlns:abcdefghij="http://www.onvif.org/ver10/network/wsdl"><e:Body><d:Probe xmlns:d="urn:d" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><d:Types>abcdefghij:NetworkVideoTransmitter tds:Device</d:Types></d:Probe></e:Body></e:Envelope>"#;
        let root = p(doc).unwrap();
        let types = &root.children[0].children[0].children[0];
        let names: Vec<_> = types
            .text()
            .split_whitespace()
            .map(|q| types.resolve_qname(q))
            .collect();
        assert_eq!(
            names,
            vec![
                Some((
                    "http://www.onvif.org/ver10/network/wsdl".to_string(),
                    "NetworkVideoTransmitter".to_string()
                )),
                Some((
                    "http://www.onvif.org/ver10/device/wsdl".to_string(),
                    "Device".to_string()
                )),
            ]
        );
        assert_eq!(types.resolve_qname("nope:Device"), None);
        assert_eq!(
            types.resolve_qname("Device"),
            Some((String::new(), "Device".into()))
        );
        assert_eq!(types.resolve_qname("a:b:c"), None);
        // The outer scope does not see the inner declarations.
        assert_eq!(root.resolve_qname("tds:Device"), None);
    }

    #[test]
    fn inner_redeclaration_wins_and_default_can_be_undeclared() {
        let root =
            p(r#"<a xmlns="urn:1" xmlns:p="urn:p"><b xmlns:p="urn:q"><p:c/><d xmlns=""/></b></a>"#)
                .unwrap();
        let b = &root.children[0];
        assert!(b.is("urn:1", "b"));
        assert!(b.children[0].is("urn:q", "c"));
        assert!(b.children[1].is("", "d"));
        assert!(root.resolve_qname("p:x").is_some_and(|(n, _)| n == "urn:p"));
    }

    #[test]
    fn hostile_and_broken_documents_are_refused() {
        let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
        let wide = format!("<a>{}</a>", "<b/>".repeat(3000));
        let attrs = format!(
            "<a {}/>",
            (0..40)
                .map(|i| format!("x{i}=\"1\""))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let long_text = format!("<a>{}</a>", "x".repeat(17 * 1024));
        let big = format!("<a>{}</a>", "<b>x</b>".repeat(9000));
        let long_ns = format!("<a xmlns=\"urn:{}\"/>", "x".repeat(600));
        let many_ns = format!(
            "{}{}",
            (0..25)
                .map(|i| format!(
                    "<b xmlns:p{i}=\"urn:{i}\" xmlns:q{i}=\"urn:{i}\" xmlns:r{i}=\"urn:{i}\">"
                ))
                .collect::<String>(),
            "</b>".repeat(25)
        );
        let cases: Vec<(&str, String)> = vec![
            ("doctype", "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>".into()),
            (
                "billion laughs",
                "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><a>&lol2;</a>".into(),
            ),
            ("xxe", "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>".into()),
            ("undefined entity", "<a>&x;</a>".into()),
            ("undefined entity in attribute", "<a b=\"&x;\"/>".into()),
            ("pi", "<a><?php x?></a>".into()),
            ("pi before root", "<?xml-stylesheet href=\"x\"?><a/>".into()),
            ("late declaration", "<a/><?xml version=\"1.0\"?>".into()),
            ("truncated", "<a><b>".into()),
            ("truncated tag", "<a><b".into()),
            ("mismatched", "<a></b>".into()),
            ("unexpected end", "</a>".into()),
            ("two roots", "<a/><b/>".into()),
            ("trailing text", "<a/>x".into()),
            ("leading text", "x<a/>".into()),
            ("empty", "".into()),
            ("only comment", "<!-- x -->".into()),
            ("unbound prefix", "<p:a/>".into()),
            ("unbound attr prefix", "<a p:b=\"1\"/>".into()),
            ("duplicate attribute", "<a b=\"1\" b=\"2\"/>".into()),
            ("deep", deep),
            ("many elements", wide),
            ("many attributes", attrs),
            ("long text", long_text),
            ("oversized", big),
            ("long namespace", long_ns),
            ("many namespaces", many_ns.clone()),
            ("bad char ref", "<a>&#0;</a>".into()),
            ("empty prefix decl", "<a xmlns:p=\"\"/>".into()),
        ];
        for (name, doc) in cases {
            let result = p(&doc);
            println!("{name}: {result:?}");
            assert!(result.is_err(), "{name} was accepted");
        }
        assert_eq!(
            parse(b"\xff<a/>", &Limits::default()),
            Err(XmlError::NotUtf8)
        );
        assert_eq!(p(&many_ns), Err(XmlError::TooManyNamespaces(64)));
    }

    #[test]
    fn limits_are_exact() {
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        assert!(parse(b"<a><b><c/></b></a>", &limits).is_ok());
        assert_eq!(
            parse(b"<a><b><c><d/></c></b></a>", &limits),
            Err(XmlError::TooDeep(3))
        );
        let small = Limits {
            max_size: 10,
            ..Limits::default()
        };
        assert_eq!(parse(b"<a>123456</a>", &small), Err(XmlError::TooLarge(10)));
    }

    #[test]
    fn bom_comments_and_declaration_are_fine() {
        let root = parse(
            b"\xEF\xBB\xBF<?xml version=\"1.0\"?><!-- c --><a><!-- d -->t</a>\n",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(root.text(), "t");
    }

    #[test]
    fn escape_round_trips() {
        let s = "a<b>&\"c'";
        let doc = format!("<a x=\"{}\">{}</a>", escape(s), escape(s));
        let root = p(&doc).unwrap();
        assert_eq!(root.text, s);
        assert_eq!(root.attr(None, "x"), Some(s));
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }
}
