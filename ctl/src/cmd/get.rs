//! `miniktl get`: list or fetch objects and print them — kubectl get.
//!
//! Tables come from the API server (server-side printing, Accept
//! `as=Table`), so columns are exactly Kubernetes'; this file only asks,
//! decorates (`-A`, `kind/` prefixes, labels) and lays them out. `-o
//! yaml|json|name|jsonpath` fetch the objects instead. `-w` prints the table
//! then one row per watch event, keeping column widths, as kubectl does.
//!
//! Differences from kubectl on purpose: `get events` is sorted by time
//! unless `--sort-by` says otherwise (kubectl leaves server order).

use futures::StreamExt;
use minik_api::ResourceInfo;
use serde_json::Value;

use crate::api::with_type;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::{AllNamespaces, Files, Output, Selector};
use crate::objects::resource_of;
use crate::printers::{self, jsonpath, Format, TableOptions, TablePrinter};
use crate::resources::{self, kind_prefix, Selection, Selections};
use crate::url::{encode_query, resource_path, TABLE_ACCEPT};

/// What was found, with the errors met on the way (each printed, then
/// counted in the exit status, as kubectl reports partial results).
type Partial<T> = std::result::Result<T, (T, Vec<Error>)>;

fn partial<T>(found: T, errors: Vec<Error>) -> Partial<T> {
    if errors.is_empty() {
        Ok(found)
    } else {
        Err((found, errors))
    }
}

/// Display one or many resources.
#[derive(clap::Args, Debug)]
pub struct Get {
    /// TYPE[,TYPE...] [NAME...] or TYPE/NAME ...
    pub args: Vec<String>,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub selector: Selector,
    /// Field selector (e.g. status.phase=Running).
    #[arg(long = "field-selector")]
    pub field_selector: Option<String>,
    #[command(flatten)]
    pub all_ns: AllNamespaces,
    /// After listing, watch for changes.
    #[arg(short = 'w', long = "watch")]
    pub watch: bool,
    /// Watch for changes without listing first.
    #[arg(long = "watch-only")]
    pub watch_only: bool,
    /// Show all labels as the last column.
    #[arg(long = "show-labels")]
    pub show_labels: bool,
    /// Label keys to show as columns (comma separated, repeatable).
    #[arg(short = 'L', long = "label-columns", value_delimiter = ',')]
    pub label_columns: Vec<String>,
    /// Don't print headers.
    #[arg(long = "no-headers")]
    pub no_headers: bool,
    /// Sort by a JSONPath expression (e.g. .metadata.name, .lastTimestamp).
    #[arg(long = "sort-by")]
    pub sort_by: Option<String>,
    #[command(flatten)]
    pub files: Files,
    /// Don't fail when a named object does not exist.
    #[arg(long = "ignore-not-found")]
    pub ignore_not_found: bool,
    /// Keep metadata.managedFields (who owns which field) in JSON and YAML.
    #[arg(long = "show-managed-fields")]
    pub show_managed_fields: bool,
}

impl Get {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let format = Format::parse(self.output.as_deref())?;
        let namespace = ctx.namespace().await?;
        let selections = if self.files.is_empty() {
            resources::parse_args(&self.args)?
        } else {
            selections_from_files(ctx, &self.files)?
        };
        if self.watch || self.watch_only {
            return self.watch(ctx, &selections, &format, &namespace).await;
        }
        let ns = self.all_ns.scope(&namespace);
        let mut errors = 0;
        if format.is_table() {
            let mut printer = TablePrinter::new();
            let mut wrote = false;
            let mut separator_ready = false;
            let mut first = true;
            for sel in &selections.items {
                let table = match self.fetch_table(ctx, sel, ns).await {
                    Ok(t) => t,
                    Err((t, errs)) => {
                        errors += errs.len();
                        for e in errs {
                            ctx.eprint(&format!("{}\n", e.render()));
                        }
                        t
                    }
                };
                let Some(table) = table else { continue };
                if !first {
                    let out = printer.next_kind();
                    if !out.is_empty() {
                        wrote = true;
                        ctx.print(&out);
                    }
                    if wrote && !self.no_headers {
                        separator_ready = true;
                    }
                }
                first = false;
                let opts = TableOptions {
                    wide: matches!(format, Format::Wide),
                    no_headers: self.no_headers,
                    with_namespace: self.all_ns.all_namespaces && sel.info.namespaced,
                    kind_prefix: (selections.multiple_types).then(|| kind_prefix(sel.info)),
                    show_labels: self.show_labels,
                    label_columns: self.label_columns.clone(),
                };
                let rows = printers::render_table(&table, &opts);
                if !rows.is_empty() {
                    if separator_ready {
                        ctx.print("\n");
                        separator_ready = false;
                    }
                    printer.add(&table, &opts);
                    let out = printer.flush();
                    wrote = true;
                    ctx.print(&out);
                }
            }
            if !wrote && errors == 0 && !self.ignore_not_found {
                if self.all_ns.all_namespaces || selections.items.iter().all(|s| !s.info.namespaced)
                {
                    ctx.eprint("No resources found\n");
                } else {
                    ctx.eprint(&format!("No resources found in {namespace} namespace.\n"));
                }
            }
        } else {
            let mut objects = Vec::new();
            for sel in &selections.items {
                match self.fetch_objects(ctx, sel, ns).await {
                    Ok(mut o) => objects.append(&mut o),
                    Err((mut o, errs)) => {
                        objects.append(&mut o);
                        errors += errs.len();
                        for e in errs {
                            ctx.eprint(&format!("{}\n", e.render()));
                        }
                    }
                }
            }
            if let Some(s) = &self.sort_by {
                sort_objects(&mut objects, s)?;
            }
            let single = selections.named
                && selections.items.len() == 1
                && selections.items[0].names.len() == 1;
            if objects.is_empty()
                && !single
                && matches!(format, Format::Name)
                && errors == 0
                && !self.ignore_not_found
            {
                ctx.eprint(&format!("No resources found in {namespace} namespace.\n"));
            }
            if !(single && objects.is_empty()) {
                ctx.print(&printers::render_objects(
                    &format,
                    &objects,
                    single,
                    self.show_managed_fields,
                )?);
            }
        }
        if errors > 0 {
            return Err(Error::Reported(errors));
        }
        Ok(())
    }

    fn query(&self, extra: &[(&str, String)]) -> String {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(l) = &self.selector.selector {
            params.push(("labelSelector", l.clone()));
        }
        if let Some(f) = &self.field_selector {
            params.push(("fieldSelector", f.clone()));
        }
        params.extend(extra.iter().cloned());
        encode_query(&params)
    }

    /// Keeps a failed GET's error, unless `--ignore-not-found` forgives it.
    fn record(&self, e: Error, errors: &mut Vec<Error>) {
        if !(e.is_not_found() && self.ignore_not_found) {
            errors.push(e);
        }
    }

    /// The sort key for this resource: `--sort-by`, or time for events.
    fn sort_key(&self, info: &ResourceInfo) -> Option<String> {
        match &self.sort_by {
            Some(s) => Some(s.clone()),
            None if info.plural == "events" => Some("__event_time".into()),
            None => None,
        }
    }

    /// One Table for a selection: the collection, or the named objects'
    /// rows merged. Per-name failures are returned alongside what was found.
    async fn fetch_table(
        &self,
        ctx: &Ctx,
        sel: &Selection,
        ns: Option<&str>,
    ) -> Partial<Option<Value>> {
        let sort = self.sort_key(sel.info);
        let extra: Vec<(&str, String)> = if sort.is_some() {
            vec![("includeObject", "Object".into())]
        } else {
            vec![]
        };
        if sel.names.is_empty() {
            let path = format!(
                "{}{}",
                resource_path(sel.info, ns, None, None),
                self.query(&extra)
            );
            return match ctx.raw_get(&path, TABLE_ACCEPT).await {
                Ok(mut t) => {
                    if let Some(k) = &sort {
                        sort_table(&mut t, k).map_err(|e| (None, vec![e]))?;
                    }
                    Ok(Some(t))
                }
                Err(e) => Err((None, vec![e])),
            };
        }
        let mut merged: Option<Value> = None;
        let mut errors = Vec::new();
        let ns = sel.namespace.clone().or(ns.map(str::to_string));
        let ns_for_named = match ns {
            Some(n) => n,
            None => ctx.namespace().await.map_err(|e| (None, vec![e]))?,
        };
        for name in &sel.names {
            let path = format!(
                "{}{}",
                resource_path(sel.info, Some(&ns_for_named), Some(name), None),
                self.query(&extra)
            );
            match ctx.raw_get(&path, TABLE_ACCEPT).await {
                Ok(t) => match &mut merged {
                    None => merged = Some(t),
                    Some(m) => {
                        if let (Some(rows), Some(new)) = (
                            m.get_mut("rows").and_then(Value::as_array_mut),
                            t.get("rows").and_then(Value::as_array),
                        ) {
                            rows.extend(new.iter().cloned());
                        }
                    }
                },
                Err(e) => self.record(e, &mut errors),
            }
        }
        partial(merged, errors)
    }

    async fn fetch_objects(
        &self,
        ctx: &Ctx,
        sel: &Selection,
        ns: Option<&str>,
    ) -> Partial<Vec<Value>> {
        if sel.names.is_empty() {
            return ctx
                .list(
                    sel.info,
                    ns,
                    self.selector.get(),
                    self.field_selector.as_deref(),
                )
                .await
                .map(|mut items| {
                    if self.sort_by.is_none() && sel.info.plural == "events" {
                        items.sort_by_key(event_time);
                    }
                    items
                })
                .map_err(|e| (Vec::new(), vec![e]));
        }
        let ns_for_named = match sel.namespace.as_deref().or(ns) {
            Some(n) => n.to_string(),
            None => ctx.namespace().await.map_err(|e| (Vec::new(), vec![e]))?,
        };
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for name in &sel.names {
            match ctx.get(sel.info, &ns_for_named, name).await {
                Ok(o) => out.push(with_type(o, sel.info)),
                Err(e) => self.record(e, &mut errors),
            }
        }
        partial(out, errors)
    }

    async fn watch(
        &self,
        ctx: &Ctx,
        selections: &Selections,
        format: &Format,
        namespace: &str,
    ) -> Result<()> {
        let total: usize = selections.items.iter().map(|s| s.names.len().max(1)).sum();
        if selections.items.len() != 1 || total > 1 {
            return Err(Error::Usage(format!(
                "watch is only supported on individual resources and resource collections, but {total} resources were found"
            )));
        }
        let sel = &selections.items[0];
        let ns = self.all_ns.scope(namespace);
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(l) = &self.selector.selector {
            params.push(("labelSelector", l.clone()));
        }
        let mut fields: Vec<String> = self.field_selector.iter().cloned().collect();
        if let Some(name) = sel.names.first() {
            fields.push(format!("metadata.name={name}"));
        }
        if !fields.is_empty() {
            params.push(("fieldSelector", fields.join(",")));
        }
        let base = resource_path(sel.info, ns, None, None);
        let opts = TableOptions {
            wide: matches!(format, Format::Wide),
            no_headers: self.no_headers,
            with_namespace: self.all_ns.all_namespaces && sel.info.namespaced,
            kind_prefix: None,
            show_labels: self.show_labels,
            label_columns: self.label_columns.clone(),
        };
        let mut printer = TablePrinter::new();
        let mut header_printed = self.no_headers;
        let accept = if format.is_table() {
            TABLE_ACCEPT
        } else {
            "application/json"
        };
        let list = ctx
            .raw_get(&format!("{base}{}", encode_query(&params)), accept)
            .await?;
        let rv = list
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("0")
            .to_string();
        if !self.watch_only {
            if format.is_table() {
                if printer.add(&list, &opts) {
                    header_printed = true;
                }
                ctx.print(&printer.flush());
            } else {
                let items: Vec<Value> = list
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|o| with_type(o, sel.info))
                    .collect();
                for o in &items {
                    ctx.print(&watch_object_text(format, o)?);
                }
            }
        }
        params.push(("watch", "1".into()));
        params.push(("resourceVersion", rv));
        let path = format!("{base}{}", encode_query(&params));
        let mut stream = Box::pin(ctx.raw_watch(&path, accept).await?);
        while let Some(ev) = stream.next().await {
            let (kind, obj) = ev?;
            if kind == "BOOKMARK" {
                continue;
            }
            if format.is_table() {
                let row_opts = TableOptions {
                    no_headers: header_printed,
                    ..opts.clone()
                };
                if printer.add(&obj, &row_opts) {
                    header_printed = true;
                }
                ctx.print(&printer.flush());
            } else {
                let mut obj = with_type(obj, sel.info);
                if !self.show_managed_fields {
                    printers::omit_managed_fields(&mut obj);
                }
                ctx.print(&watch_object_text(format, &obj)?);
            }
        }
        Ok(())
    }
}

fn watch_object_text(format: &Format, obj: &Value) -> Result<String> {
    Ok(match format {
        Format::Yaml => format!("---\n{}", printers::yaml::to_yaml(obj)),
        other => printers::print_objects(other, std::slice::from_ref(obj), true)?,
    })
}

/// Resolves `get -f FILE`: the kinds and names the files describe.
fn selections_from_files(ctx: &Ctx, files: &Files) -> Result<Selections> {
    let docs = files.read(&ctx.io)?;
    let mut items: Vec<Selection> = Vec::new();
    for d in docs {
        let info = resource_of(&d, &format!("\"{}\"", d.origin))?;
        let name = minik_api::meta::name(&d.object).to_string();
        let namespace = minik_api::meta::namespace(&d.object)
            .map(str::to_string)
            .filter(|_| info.namespaced);
        match items
            .iter_mut()
            .find(|s| std::ptr::eq(s.info, info) && s.namespace == namespace)
        {
            Some(s) => s.names.push(name),
            None => items.push(Selection {
                info,
                names: vec![name],
                namespace,
            }),
        }
    }
    let multiple_types = items.len() > 1;
    Ok(Selections {
        items,
        multiple_types,
        named: true,
    })
}

/// An event's time: `lastTimestamp`, else `eventTime`, else creation.
pub fn event_time(e: &Value) -> String {
    for p in [
        "/lastTimestamp",
        "/eventTime",
        "/series/lastObservedTime",
        "/deprecatedLastTimestamp",
        "/firstTimestamp",
        "/metadata/creationTimestamp",
    ] {
        if let Some(s) = e.pointer(p).and_then(Value::as_str) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    String::new()
}

/// Sorts a Table's rows (which carry full objects) by a JSONPath or by event time.
fn sort_table(table: &mut Value, key: &str) -> Result<()> {
    let Some(rows) = table.get_mut("rows").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    if key == "__event_time" {
        rows.sort_by_key(|r| r.get("object").map(event_time).unwrap_or_default());
        return Ok(());
    }
    let path = jsonpath::relaxed(key)?;
    rows.sort_by(|a, b| {
        let ka = a.get("object").map(|o| path.select(o)).unwrap_or_default();
        let kb = b.get("object").map(|o| path.select(o)).unwrap_or_default();
        compare_keys(ka.first(), kb.first())
    });
    Ok(())
}

fn sort_objects(objects: &mut [Value], key: &str) -> Result<()> {
    let path = jsonpath::relaxed(key)?;
    objects.sort_by(|a, b| compare_keys(path.select(a).first(), path.select(b).first()));
    Ok(())
}

fn compare_keys(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(std::cmp::Ordering::Equal),
        (Some(x), Some(y)) => jsonpath::text(x).cmp(&jsonpath::text(y)),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}
