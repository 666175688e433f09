//! How controllers write status so it reads like Kubernetes' own:
//! `omitempty` counts, second-precision `metav1.Time`, and the status
//! update with one retry after a fresh read.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// A count Kubernetes serializes with `omitempty`: absent when zero, so
/// status reads (`kubectl get -o yaml`) the same as on a real cluster.
pub fn omit_zero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

/// `t` as a `metav1.Time`, which has second precision.
pub fn second_precision(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// Writes `status` into `obj` through its status subresource (`put` sets it
/// on the object); if that fails for any reason but the object being gone,
/// reads the object again, lets `refresh` carry over what the fresh copy
/// decides (its generation, its collision count), and tries once more —
/// Kubernetes' `updateReplicaSetStatus` / `storeDaemonSetStatus`.
pub async fn write_status<K, S: Clone>(
    api: &kube::Api<K>,
    obj: &K,
    mut status: S,
    put: impl Fn(&mut K, S),
    refresh: impl Fn(&K, &mut S),
) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    use kube::ResourceExt;
    let name = obj.name_any();
    let mut target = obj.clone();
    for attempt in 0..2 {
        put(&mut target, status.clone());
        match api
            .replace_status(&name, &kube::api::PostParams::default(), &target)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if attempt == 1 || minik_client::errors::is_not_found(&e) => return Err(e),
            Err(_) => {
                target = api.get(&name).await?;
                refresh(&target, &mut status);
            }
        }
    }
    Ok(())
}
