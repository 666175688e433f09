//! Which Ingresses this controller serves (IngressClass handling).
//!
//! As in Kubernetes: an Ingress names its class in `spec.ingressClassName`
//! (or the legacy `kubernetes.io/ingress.class` annotation); an
//! IngressClass names its controller in `spec.controller`. minik serves
//! the classes whose controller is `minik.dev/ingress`, and the class name
//! `minik` even before any IngressClass object exists. An Ingress without
//! a class goes to the default class (annotation
//! `ingressclass.kubernetes.io/is-default-class: "true"`); when there is no
//! default class, minik serves it anyway — like ingress-nginx with
//! `--watch-ingress-without-class` — because tutorials' manifests rarely
//! name a class.

use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

/// The annotation that marks the cluster's default IngressClass.
pub const DEFAULT_CLASS: &str = "ingressclass.kubernetes.io/is-default-class";
/// The pre-IngressClass way of choosing a controller.
pub const LEGACY_CLASS: &str = "kubernetes.io/ingress.class";

/// This controller's identity.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The class name served without an IngressClass object ("minik").
    pub class: String,
    /// The `spec.controller` value this controller answers to ("minik.dev/ingress").
    pub controller: String,
}

impl Identity {
    fn owns_class(&self, name: &str, classes: &[&IngressClass]) -> bool {
        match classes
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
        {
            Some(c) => {
                c.spec.as_ref().and_then(|s| s.controller.as_deref())
                    == Some(self.controller.as_str())
            }
            None => name == self.class,
        }
    }

    /// Whether this controller serves `ing`.
    pub fn serves(&self, ing: &Ingress, classes: &[&IngressClass]) -> bool {
        let named = ing
            .spec
            .as_ref()
            .and_then(|s| s.ingress_class_name.as_deref())
            .or_else(|| {
                ing.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(LEGACY_CLASS))
                    .map(String::as_str)
            });
        if let Some(name) = named {
            return self.owns_class(name, classes);
        }
        let default = classes.iter().find(|c| {
            c.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DEFAULT_CLASS))
                .is_some_and(|v| v == "true")
        });
        match default {
            Some(c) => self.owns_class(c.metadata.name.as_deref().unwrap_or(""), classes),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn me() -> Identity {
        Identity {
            class: "minik".into(),
            controller: "minik.dev/ingress".into(),
        }
    }

    fn ing(class: Option<&str>) -> Ingress {
        serde_json::from_value(json!({
            "metadata": {"name": "i", "namespace": "default"},
            "spec": {"ingressClassName": class}
        }))
        .unwrap()
    }

    fn class(name: &str, controller: &str, default: bool) -> IngressClass {
        let annotations = if default {
            json!({DEFAULT_CLASS: "true"})
        } else {
            json!({})
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"controller": controller}
        }))
        .unwrap()
    }

    #[test]
    fn class_selection() {
        let nginx = class("nginx", "k8s.io/ingress-nginx", false);
        let mine = class("local", "minik.dev/ingress", false);
        assert!(me().serves(&ing(None), &[]), "no class, no default: served");
        assert!(me().serves(&ing(Some("minik")), &[]));
        assert!(me().serves(&ing(Some("local")), &[&nginx, &mine]));
        assert!(!me().serves(&ing(Some("nginx")), &[&nginx, &mine]));
        assert!(!me().serves(&ing(Some("unknown")), &[]));
        let nginx_default = class("nginx", "k8s.io/ingress-nginx", true);
        assert!(!me().serves(&ing(None), &[&nginx_default]));
        let mine_default = class("local", "minik.dev/ingress", true);
        assert!(me().serves(&ing(None), &[&nginx, &mine_default]));
    }
}
