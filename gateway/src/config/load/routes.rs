//! Loading, section by section: Policy scopes into compiled plans, and APIs and operations into
//! the Router.
//!
//! One `impl Loader` block per configuration section (as Pingora spreads `HttpProxy` over
//! files): it reports errors through the `Loader` and returns its part of the snapshot, which
//! `run` in `mod.rs` assembles. Must not: serve requests.

use super::*;

impl Loader {
    /// Parses a policy document; None (with the error recorded) if it does not parse.
    pub(super) fn policy(&mut self, p: &S<String>, scope: Scope) -> Option<ScopeDocument> {
        let text = self.read_text(p)?;
        let name = self.path(&p.value).display().to_string();
        let r = Source::new(name, text, &self.named)
            .map_err(CompileError::from)
            .and_then(|src| ScopeDocument::parse(scope, src));
        match r {
            Ok(d) => Some(d),
            Err(e) => {
                self.compile_error(e);
                None
            }
        }
    }

    pub(super) fn routes(
        &mut self,
        cfg: &ConfigFile,
        backends: &HashMap<String, Arc<BackendSpec>>,
        opts: &LoadOptions,
    ) -> Router {
        let global = cfg
            .policies
            .as_ref()
            .and_then(|p| self.policy(&p.global, Scope::Global));
        let mut fragments = Fragments::new();
        let mut fragment_ids = HashSet::new();
        for f in &cfg.fragments {
            if !fragment_ids.insert(f.id.value.clone()) {
                self.at(
                    &f.id,
                    format!("fragment id '{}' is defined twice", f.id.value),
                );
                continue;
            }
            let Some(text) = self.read_text(&f.file) else {
                continue;
            };
            let name = self.path(&f.file.value).display().to_string();
            if let Err(e) = Source::new(name, text, &self.named)
                .map_err(CompileError::from)
                .and_then(|src| fragments.add(f.id.value.clone(), src))
            {
                self.compile_error(e);
            }
        }
        // Product scope per API (an API may be in one product: without subscriptions there is
        // nothing to choose between several).
        let mut product_of: HashMap<String, usize> = HashMap::new();
        let mut products = Vec::new();
        for (i, p) in cfg.products.iter().enumerate() {
            products.push(
                p.policy
                    .as_ref()
                    .and_then(|f| self.policy(f, Scope::Product)),
            );
            for a in &p.apis {
                if !cfg.apis.iter().any(|x| x.name.value == a.value) {
                    self.at(
                        a,
                        format!("product '{}' lists unknown API '{}'", p.name.value, a.value),
                    );
                } else if product_of.insert(a.value.clone(), i).is_some() {
                    self.at(a, format!("API '{}' is in more than one product", a.value));
                }
            }
        }
        let secrets: Vec<String> = self
            .named
            .secrets()
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut apis = Vec::new();
        let mut names = HashSet::new();
        for api in &cfg.apis {
            if !names.insert(api.name.value.clone()) {
                self.at(
                    &api.name,
                    format!("API name '{}' is defined twice", api.name.value),
                );
                continue;
            }
            if !api.path.value.is_empty() && !api.path.value.starts_with('/') {
                self.at(
                    &api.path,
                    format!("API path '{}' must start with '/'", api.path.value),
                );
            }
            let prefix = normalise_prefix(&api.path.value);
            let backend = api.backend.as_ref().and_then(|b| {
                if b.value.starts_with("http://") || b.value.starts_with("https://") {
                    match BackendUrl::parse(&b.value) {
                        Ok(_) => Some(BackendRef::Url(b.value.as_str().into())),
                        Err(e) => {
                            self.at(b, e);
                            None
                        }
                    }
                } else if backends.contains_key(&b.value) {
                    Some(BackendRef::Id(b.value.as_str().into()))
                } else {
                    self.at(
                        b,
                        format!(
                            "unknown backend '{}'; expected a backend id or an http(s) URL",
                            b.value
                        ),
                    );
                    None
                }
            });
            let api_doc = api.policy.as_ref().and_then(|p| self.policy(p, Scope::Api));
            let product_doc = product_of
                .get(&api.name.value)
                .and_then(|&i| products[i].as_ref());
            let mut docs: Vec<&ScopeDocument> = Vec::new();
            docs.extend(global.as_ref());
            docs.extend(product_doc);
            docs.extend(api_doc.as_ref());
            let compile =
                |route: RouteInfo, op_doc: Option<&ScopeDocument>| -> Result<Plan, CompileError> {
                    let mut all = docs.clone();
                    all.extend(op_doc);
                    compile_route(
                        &all,
                        &fragments,
                        &CompileOptions {
                            route,
                            counters: opts.counters.clone(),
                            openid: crate::proxy::openid::REGISTRY.clone(),
                            external_cache: opts.external_cache,
                            secrets: secrets.clone(),
                        },
                    )
                };
            let base = RouteInfo {
                api_name: api.name.value.as_str().into(),
                api_id: api.name.value.as_str().into(),
                api_path: prefix.as_str().into(),
                ..Default::default()
            };
            let mut operations = Vec::new();
            let mut pass_through = None;
            if api.operations.is_empty() {
                match compile(base.clone(), None) {
                    Ok(p) => pass_through = Some(Arc::new(p)),
                    Err(e) => self.compile_error(e),
                }
            }
            let mut op_names = HashSet::new();
            for op in &api.operations {
                if !op_names.insert(op.name.value.clone()) {
                    self.at(
                        &op.name,
                        format!(
                            "operation '{}' is defined twice in API '{}'",
                            op.name.value, api.name.value
                        ),
                    );
                    continue;
                }
                let method = op.method.value.trim().to_ascii_uppercase();
                if method != "*"
                    && (method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()))
                {
                    self.at(
                        &op.method,
                        format!("'{}' is not an HTTP method (or *)", op.method.value),
                    );
                    continue;
                }
                let template = match UrlTemplate::parse(&op.url_template.value) {
                    Ok(t) => t,
                    Err(e) => {
                        self.at(
                            &op.url_template,
                            format!("URL template '{}': {e}", op.url_template.value),
                        );
                        continue;
                    }
                };
                let op_doc = op
                    .policy
                    .as_ref()
                    .and_then(|p| self.policy(p, Scope::Operation));
                if op.policy.is_some() && op_doc.is_none() {
                    continue;
                }
                let route = RouteInfo {
                    operation_name: op.name.value.as_str().into(),
                    operation_id: op.name.value.as_str().into(),
                    operation_method: method.as_str().into(),
                    operation_url_template: op.url_template.value.as_str().into(),
                    ..base.clone()
                };
                match compile(route, op_doc.as_ref()) {
                    Ok(p) => operations.push(OperationRoute {
                        name: op.name.value.as_str().into(),
                        method: (method != "*").then_some(method),
                        template,
                        template_text: op.url_template.value.clone(),
                        plan: Arc::new(p),
                    }),
                    Err(e) => self.compile_error(e),
                }
            }
            let hostnames = api
                .hostnames
                .iter()
                .map(|h| h.value.to_ascii_lowercase())
                .collect();
            apis.push(ApiRoute {
                name: api.name.value.as_str().into(),
                prefix,
                hostnames,
                backend,
                operations,
                pass_through,
            });
        }
        Router::new(apis)
    }
}
