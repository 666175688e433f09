//! `describe pod`, and the pieces every pod template shares (containers,
//! probes, environment, mounts, volumes, tolerations) — kubectl's
//! `describePod`, `describeContainers`, `DescribePodTemplate`.

use serde_json::Value;

use crate::context::Ctx;
use crate::describe::header::Header;
use crate::describe::{
    annotations_multiline, canonical_quantity, conditions, controlled_by, events, labels_multiline,
    quantities, rfc1123z, scalar, since, str_at, Writer,
};
use crate::error::Result;
use crate::value::array_at;

pub async fn describe(ctx: &Ctx, pod: &Value, show_events: bool, w: &mut Writer) -> Result<()> {
    let spec = pod.get("spec").cloned().unwrap_or_default();
    let status = pod.get("status").cloned().unwrap_or_default();
    let mut header = Header::new(pod);
    if let Some(p) = spec.get("priority").filter(|p| !p.is_null()) {
        header.field("Priority", scalar(Some(p)));
    }
    for (title, pointer) in [
        ("Priority Class Name", "/priorityClassName"),
        ("Runtime Class Name", "/runtimeClassName"),
        ("Service Account", "/serviceAccountName"),
    ] {
        if !str_at(&spec, pointer).is_empty() {
            header.field(title, str_at(&spec, pointer));
        }
    }
    let node = str_at(&spec, "/nodeName");
    if node.is_empty() {
        header.field("Node", "<none>");
    } else {
        header.field("Node", format!("{node}/{}", str_at(&status, "/hostIP")));
    }
    if let Some(st) = status.get("startTime").and_then(Value::as_str) {
        header.field("Start Time", rfc1123z(st));
    }
    header.write(w);
    let phase = str_at(&status, "/phase");
    let deleting = pod
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str);
    match deleting {
        Some(ts) if phase != "Failed" && phase != "Succeeded" => {
            w.line(
                0,
                &format!("Status:\tTerminating (lasts {})", since(Some(ts))),
            );
            w.line(
                0,
                &format!(
                    "Termination Grace Period:\t{}s",
                    scalar(pod.pointer("/metadata/deletionGracePeriodSeconds"))
                ),
            );
        }
        _ => w.line(0, &format!("Status:\t{phase}")),
    }
    w.optional(0, "Reason", &status, "/reason");
    w.optional(0, "Message", &status, "/message");
    w.line(0, &format!("IP:\t{}", str_at(&status, "/podIP")));
    match status
        .get("podIPs")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        None => w.line(0, "IPs:\t<none>"),
        Some(ips) => {
            w.line(0, "IPs:");
            for ip in ips {
                w.line(1, &format!("IP:\t{}", str_at(ip, "/ip")));
            }
        }
    }
    if let Some(c) = controlled_by(pod) {
        w.line(0, &format!("Controlled By:\t{c}"));
    }
    w.optional(0, "NominatedNodeName", &status, "/nominatedNodeName");
    if let Some(init) = spec
        .get("initContainers")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        containers(
            w,
            "Init Containers",
            init,
            status.get("initContainerStatuses"),
            Some(pod),
            "",
        );
    }
    let cs = array_at(&spec, "/containers");
    containers(
        w,
        "Containers",
        cs,
        status.get("containerStatuses"),
        Some(pod),
        "",
    );
    conditions(w, pod, &["Type\tStatus"], |c| {
        format!("{} \t{} ", str_at(c, "/type"), str_at(c, "/status"))
    });
    volumes(w, spec.get("volumes"), "");
    let qos = match str_at(&status, "/qosClass") {
        "" => qos_class(&spec),
        q => q.to_string(),
    };
    w.line(0, &format!("QoS Class:\t{qos}"));
    labels_multiline(
        w,
        "Node-Selectors",
        spec.get("nodeSelector").and_then(Value::as_object),
    );
    tolerations(w, "Tolerations", spec.get("tolerations"));
    if show_events {
        let evs = events::for_object(ctx, pod).await?;
        events::write(w, &evs);
    }
    Ok(())
}

/// The `Containers:` (or `Init Containers:`) section. `space` is the extra
/// indent used inside a pod template (`"  "`); `pod` resolves field refs.
pub fn containers(
    w: &mut Writer,
    label: &str,
    containers: &[Value],
    statuses: Option<&Value>,
    pod: Option<&Value>,
    space: &str,
) {
    let none = if containers.is_empty() { " <none>" } else { "" };
    w.line(0, &format!("{space}{label}:{none}"));
    let empty = Vec::new();
    let statuses = statuses.and_then(Value::as_array).unwrap_or(&empty);
    for c in containers {
        let name = str_at(c, "/name");
        let status = statuses.iter().find(|s| str_at(s, "/name") == name);
        let name_indent = if space.is_empty() { "" } else { " " };
        w.line(1, &format!("{name_indent}{name}:"));
        if let Some(s) = status {
            w.line(2, &format!("Container ID:\t{}", str_at(s, "/containerID")));
        }
        w.line(2, &format!("Image:\t{}", str_at(c, "/image")));
        if let Some(s) = status {
            w.line(2, &format!("Image ID:\t{}", str_at(s, "/imageID")));
        }
        let ports = c
            .get("ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let port_list: Vec<String> = ports
            .iter()
            .map(|p| format!("{}/{}", scalar(p.get("containerPort")), proto(p)))
            .collect();
        let host_list: Vec<String> = ports
            .iter()
            .map(|p| {
                format!(
                    "{}/{}",
                    p.get("hostPort")
                        .map(|v| scalar(Some(v)))
                        .unwrap_or_else(|| "0".into()),
                    proto(p)
                )
            })
            .collect();
        let ports_text = port_list.join(", ");
        if ports_text.contains(',') {
            w.line(2, &format!("Ports:\t{ports_text}"));
        } else {
            w.line(2, &format!("Port:\t{}", or_none(&ports_text)));
        }
        let host_text = host_list.join(", ");
        if host_text.contains(',') {
            w.line(2, &format!("Host Ports:\t{host_text}"));
        } else {
            w.line(2, &format!("Host Port:\t{}", or_none(&host_text)));
        }
        w.optional(2, "Restart Policy", c, "/restartPolicy");
        for (field, title) in [("command", "Command"), ("args", "Args")] {
            if let Some(list) = c
                .get(field)
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
            {
                w.line(2, &format!("{title}:"));
                for item in list {
                    for part in item.as_str().unwrap_or("").split('\n') {
                        w.line(3, part);
                    }
                }
            }
        }
        if let Some(s) = status {
            state(w, "State", s.get("state"));
            if s.pointer("/lastState/terminated").is_some() {
                state(w, "Last State", s.get("lastState"));
            }
            let ready = if s.get("ready").and_then(Value::as_bool) == Some(true) {
                "True"
            } else {
                "False"
            };
            w.line(2, &format!("Ready:\t{ready}"));
            w.line(
                2,
                &format!(
                    "Restart Count:\t{}",
                    scalar(s.get("restartCount")).parse::<i64>().unwrap_or(0)
                ),
            );
        }
        for (field, title) in [("limits", "Limits"), ("requests", "Requests")] {
            quantities(w, 2, title, c.pointer(&format!("/resources/{field}")));
        }
        for (field, title) in [
            ("livenessProbe", "Liveness"),
            ("readinessProbe", "Readiness"),
            ("startupProbe", "Startup"),
        ] {
            if let Some(p) = c.get(field).filter(|p| p.is_object()) {
                w.line(2, &format!("{title}:\t{}", describe_probe(p)));
            }
        }
        if let Some(from) = c
            .get("envFrom")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        {
            w.line(2, "Environment Variables from:");
            for e in from {
                let (kind, r) = if let Some(r) = e.get("configMapRef") {
                    ("ConfigMap", r)
                } else if let Some(r) = e.get("secretRef") {
                    ("Secret", r)
                } else {
                    ("", &Value::Null)
                };
                let optional = r.get("optional").and_then(Value::as_bool).unwrap_or(false);
                let prefix = str_at(e, "/prefix");
                if prefix.is_empty() {
                    w.line(
                        3,
                        &format!("{}\t{kind}\tOptional: {optional}", str_at(r, "/name")),
                    );
                } else {
                    w.line(
                        3,
                        &format!(
                            "{}\t{kind} with prefix '{prefix}'\tOptional: {optional}",
                            str_at(r, "/name")
                        ),
                    );
                }
            }
        }
        env(w, c, pod);
        mounts(w, c);
    }
}

fn proto(p: &Value) -> String {
    match str_at(p, "/protocol") {
        "" => "TCP".to_string(),
        s => s.to_string(),
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "<none>"
    } else {
        s
    }
}

fn state(w: &mut Writer, name: &str, state: Option<&Value>) {
    let st = state.cloned().unwrap_or_default();
    if let Some(r) = st.get("running").filter(|v| v.is_object()) {
        w.line(2, &format!("{name}:\tRunning"));
        w.line(
            3,
            &format!("Started:\t{}", rfc1123z(str_at(r, "/startedAt"))),
        );
    } else if let Some(wt) = st.get("waiting").filter(|v| v.is_object()) {
        w.line(2, &format!("{name}:\tWaiting"));
        w.optional(3, "Reason", wt, "/reason");
    } else if let Some(t) = st.get("terminated").filter(|v| v.is_object()) {
        w.line(2, &format!("{name}:\tTerminated"));
        w.optional(3, "Reason", t, "/reason");
        w.optional(3, "Message", t, "/message");
        w.line(
            3,
            &format!(
                "Exit Code:\t{}",
                scalar(t.get("exitCode")).parse::<i64>().unwrap_or(0)
            ),
        );
        if let Some(sig) = t.get("signal").and_then(Value::as_i64).filter(|s| *s > 0) {
            w.line(3, &format!("Signal:\t{sig}"));
        }
        w.line(
            3,
            &format!("Started:\t{}", rfc1123z(str_at(t, "/startedAt"))),
        );
        w.line(
            3,
            &format!("Finished:\t{}", rfc1123z(str_at(t, "/finishedAt"))),
        );
    } else {
        w.line(2, &format!("{name}:\tWaiting"));
    }
}

/// kubectl's `DescribeProbe`: `http-get http://:80/healthz delay=0s timeout=1s ...`.
pub fn describe_probe(p: &Value) -> String {
    let n = |f: &str| p.get(f).and_then(Value::as_i64).unwrap_or(0);
    let attrs = format!(
        "delay={}s timeout={}s period={}s #success={} #failure={}",
        n("initialDelaySeconds"),
        n("timeoutSeconds"),
        n("periodSeconds"),
        n("successThreshold"),
        n("failureThreshold")
    );
    if let Some(e) = p.get("exec") {
        let cmd: Vec<String> = e
            .get("command")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        return format!("exec [{}] {attrs}", cmd.join(" "));
    }
    if let Some(h) = p.get("httpGet") {
        let scheme = str_at(h, "/scheme").to_ascii_lowercase();
        let host = str_at(h, "/host");
        let port = scalar(h.get("port"));
        let hostport = if port.is_empty() {
            host.to_string()
        } else if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let path = str_at(h, "/path");
        let path = if path.is_empty() || path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let url = if scheme.is_empty() {
            format!("//{hostport}{path}")
        } else {
            format!("{scheme}://{hostport}{path}")
        };
        return format!("http-get {url} {attrs}");
    }
    if let Some(t) = p.get("tcpSocket") {
        return format!(
            "tcp-socket {}:{} {attrs}",
            str_at(t, "/host"),
            scalar(t.get("port"))
        );
    }
    if let Some(g) = p.get("grpc") {
        return format!(
            "grpc <pod>:{} {} {attrs}",
            scalar(g.get("port")),
            str_at(g, "/service")
        );
    }
    format!("unknown {attrs}")
}

fn env(w: &mut Writer, c: &Value, pod: Option<&Value>) {
    let env = array_at(c, "/env");
    if env.is_empty() {
        w.line(2, "Environment:\t<none>");
    } else {
        w.line(2, "Environment:");
    }
    for e in env {
        let name = str_at(e, "/name");
        let Some(from) = e.get("valueFrom").filter(|v| v.is_object()) else {
            for (i, part) in str_at(e, "/value").split('\n').enumerate() {
                if i == 0 {
                    w.line(3, &format!("{name}:\t{part}"));
                } else {
                    w.line(3, &format!("\t{part}"));
                }
            }
            continue;
        };
        if let Some(f) = from.get("fieldRef") {
            let path = str_at(f, "/fieldPath");
            let value = pod.map(|p| field_ref_value(p, path)).unwrap_or_default();
            w.line(
                3,
                &format!("{name}:\t{value} ({}:{path})", str_at(f, "/apiVersion")),
            );
        } else if let Some(r) = from.get("resourceFieldRef") {
            let resource = str_at(r, "/resource");
            let value = resource
                .split_once('.')
                .and_then(|(kind, res)| c.pointer(&format!("/resources/{kind}/{res}")))
                .map(canonical_quantity)
                .unwrap_or_else(|| "node allocatable".into());
            w.line(3, &format!("{name}:\t{value} ({resource})"));
        } else if let Some((r, source)) = from
            .get("secretKeyRef")
            .map(|r| (r, "in secret"))
            .or_else(|| from.get("configMapKeyRef").map(|r| (r, "of config map")))
        {
            let optional = r.get("optional").and_then(Value::as_bool).unwrap_or(false);
            w.line(
                3,
                &format!(
                    "{name}:\t<set to the key '{}' {source} '{}'>\tOptional: {optional}",
                    str_at(r, "/key"),
                    str_at(r, "/name")
                ),
            );
        }
    }
}

/// The few downward-API fields kubectl resolves for display.
fn field_ref_value(pod: &Value, path: &str) -> String {
    match path {
        "metadata.name" => minik_api::meta::name(pod).to_string(),
        "metadata.namespace" => minik_api::meta::namespace(pod).unwrap_or("").to_string(),
        "metadata.uid" => minik_api::meta::meta_str(pod, "uid")
            .unwrap_or("")
            .to_string(),
        "spec.nodeName" => str_at(pod, "/spec/nodeName").to_string(),
        "spec.serviceAccountName" => str_at(pod, "/spec/serviceAccountName").to_string(),
        "status.podIP" => str_at(pod, "/status/podIP").to_string(),
        "status.hostIP" => str_at(pod, "/status/hostIP").to_string(),
        _ => String::new(),
    }
}

fn mounts(w: &mut Writer, c: &Value) {
    let mut mounts = array_at(c, "/volumeMounts").to_vec();
    if mounts.is_empty() {
        w.line(2, "Mounts:\t<none>");
        return;
    }
    w.line(2, "Mounts:");
    mounts.sort_by(|a, b| str_at(a, "/mountPath").cmp(str_at(b, "/mountPath")));
    for m in mounts {
        let mut flags = vec![
            if m.get("readOnly").and_then(Value::as_bool) == Some(true) {
                "ro".to_string()
            } else {
                "rw".to_string()
            },
        ];
        if !str_at(&m, "/subPath").is_empty() {
            flags.push(format!("path={:?}", str_at(&m, "/subPath")));
        }
        w.line(
            3,
            &format!(
                "{} from {} ({})",
                str_at(&m, "/mountPath"),
                str_at(&m, "/name"),
                flags.join(",")
            ),
        );
    }
}

/// The `Volumes:` section.
pub fn volumes(w: &mut Writer, volumes: Option<&Value>, space: &str) {
    let Some(vols) = volumes.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
        w.line(0, &format!("{space}Volumes:\t<none>"));
        return;
    };
    w.line(0, &format!("{space}Volumes:"));
    let name_indent = if space.is_empty() { "" } else { " " };
    for v in vols {
        w.line(1, &format!("{name_indent}{}:", str_at(v, "/name")));
        if let Some(h) = v.get("hostPath") {
            let t = match str_at(h, "/type") {
                "" => "<none>",
                t => t,
            };
            w.line(2, "Type:\tHostPath (bare host directory volume)");
            w.line(2, &format!("Path:\t{}", str_at(h, "/path")));
            w.line(2, &format!("HostPathType:\t{t}"));
        } else if let Some(e) = v.get("emptyDir") {
            let limit = e
                .get("sizeLimit")
                .map(canonical_quantity)
                .filter(|s| !s.is_empty() && s != "0")
                .unwrap_or_else(|| "<unset>".into());
            w.line(
                2,
                "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)",
            );
            w.line(2, &format!("Medium:\t{}", str_at(e, "/medium")));
            w.line(2, &format!("SizeLimit:\t{limit}"));
        } else if let Some((source, named)) = NAMED_SOURCES
            .iter()
            .find_map(|n| v.get(n.field).map(|source| (source, n)))
        {
            named.write(w, source);
        } else if v.get("projected").is_some() {
            w.line(
                2,
                "Type:\tProjected (a volume that contains injected data from multiple sources)",
            );
        } else {
            w.line(1, "<unknown>");
        }
    }
}

/// `Tolerations:  key=value:Effect op=Exists for 300s` lines.
pub fn tolerations(w: &mut Writer, title: &str, tolerations: Option<&Value>) {
    w.write(0, &format!("{title}:\t"));
    let Some(list) = tolerations
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        w.line(0, "<none>");
        return;
    };
    let mut list = list.clone();
    list.sort_by(|a, b| str_at(a, "/key").cmp(str_at(b, "/key")));
    for (i, t) in list.iter().enumerate() {
        if i > 0 {
            w.write(0, "\t");
        }
        let key = str_at(t, "/key");
        let value = str_at(t, "/value");
        let effect = str_at(t, "/effect");
        let mut text = key.to_string();
        if !value.is_empty() {
            text.push_str(&format!("={value}"));
        }
        if !effect.is_empty() {
            text.push_str(&format!(":{effect}"));
        }
        if str_at(t, "/operator") == "Exists" && value.is_empty() {
            if !key.is_empty() || !effect.is_empty() {
                text.push_str(" op=Exists");
            } else {
                text.push_str("op=Exists");
            }
        }
        if let Some(s) = t.get("tolerationSeconds").and_then(Value::as_i64) {
            text.push_str(&format!(" for {s}s"));
        }
        w.line(0, &text);
    }
}

/// QoS class from requests and limits (Guaranteed, Burstable, BestEffort).
pub fn qos_class(spec: &Value) -> String {
    let mut all: Vec<&Value> = Vec::new();
    for f in ["containers", "initContainers"] {
        if let Some(a) = spec.get(f).and_then(Value::as_array) {
            all.extend(a.iter());
        }
    }
    let mut any = false;
    let mut guaranteed = !all.is_empty();
    for c in &all {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        if req.is_some_and(|r| !r.is_empty()) || lim.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for res in ["cpu", "memory"] {
            let l = lim.and_then(|l| l.get(res));
            let r = req.and_then(|r| r.get(res)).or(l);
            match (l, r) {
                (Some(l), Some(r)) if canonical_quantity(l) == canonical_quantity(r) => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort".into()
    } else if guaranteed {
        "Guaranteed".into()
    } else {
        "Burstable".into()
    }
}

/// kubectl's `DescribePodTemplate`.
pub fn pod_template(w: &mut Writer, template: Option<&Value>) {
    w.line(0, "Pod Template:");
    let Some(t) = template else {
        w.write(1, "<unset>");
        return;
    };
    labels_multiline(
        w,
        "  Labels",
        t.pointer("/metadata/labels").and_then(Value::as_object),
    );
    if t.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| !a.is_empty())
    {
        annotations_multiline(
            w,
            "  Annotations",
            t.pointer("/metadata/annotations")
                .and_then(Value::as_object),
        );
    }
    let spec = t.get("spec").cloned().unwrap_or_default();
    w.optional(1, "Service Account", &spec, "/serviceAccountName");
    if let Some(init) = spec
        .get("initContainers")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        containers(w, "Init Containers", init, None, None, "  ");
    }
    containers(
        w,
        "Containers",
        array_at(&spec, "/containers"),
        None,
        None,
        "  ",
    );
    volumes(w, spec.get("volumes"), "  ");
    w.optional(1, "Priority Class Name", &spec, "/priorityClassName");
    labels_multiline(
        w,
        "  Node-Selectors",
        spec.get("nodeSelector").and_then(Value::as_object),
    );
    tolerations(w, "  Tolerations", spec.get("tolerations"));
}

/// A volume source kubectl describes by its type, the object it names
/// and one boolean.
struct NamedSource {
    /// The field of the volume that holds this source.
    field: &'static str,
    kind: &'static str,
    /// (title, field) of the object named.
    name: (&'static str, &'static str),
    /// (title, field) of the boolean.
    flag: (&'static str, &'static str),
}

const NAMED_SOURCES: [NamedSource; 3] = [
    NamedSource {
        field: "secret",
        kind: "Secret (a volume populated by a Secret)",
        name: ("SecretName", "secretName"),
        flag: ("Optional", "optional"),
    },
    NamedSource {
        field: "configMap",
        kind: "ConfigMap (a volume populated by a ConfigMap)",
        name: ("Name", "name"),
        flag: ("Optional", "optional"),
    },
    NamedSource {
        field: "persistentVolumeClaim",
        kind:
            "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)",
        name: ("ClaimName", "claimName"),
        flag: ("ReadOnly", "readOnly"),
    },
];

impl NamedSource {
    fn write(&self, w: &mut Writer, source: &Value) {
        w.line(2, &format!("Type:\t{}", self.kind));
        let name = source
            .get(self.name.1)
            .and_then(Value::as_str)
            .unwrap_or("");
        w.line(2, &format!("{}:\t{name}", self.name.0));
        let on = source
            .get(self.flag.1)
            .and_then(Value::as_bool)
            .unwrap_or(false);
        w.line(2, &format!("{}:\t{on}", self.flag.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn probes_describe_like_kubectl() {
        let p = json!({"httpGet": {"path": "/healthz", "port": 80, "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3});
        assert_eq!(
            describe_probe(&p),
            "http-get http://:80/healthz delay=0s timeout=1s period=10s #success=1 #failure=3"
        );
        let p = json!({"exec": {"command": ["cat", "/tmp/ok"]}, "initialDelaySeconds": 5});
        assert_eq!(
            describe_probe(&p),
            "exec [cat /tmp/ok] delay=5s timeout=0s period=0s #success=0 #failure=0"
        );
    }

    #[test]
    fn qos_classes() {
        assert_eq!(
            qos_class(&json!({"containers": [{"name": "a"}]})),
            "BestEffort"
        );
        assert_eq!(
            qos_class(
                &json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]})
            ),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&json!({"containers": [{"resources": {"requests": {"cpu": "100m"}}}]})),
            "Burstable"
        );
    }
}
