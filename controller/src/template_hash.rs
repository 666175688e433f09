//! The pod-template hash Deployments and DaemonSets name their children by
//! (`pod-template-hash`, `controller-revision-hash`): Kubernetes'
//! `controller.ComputeHash`; and the same hash over a ControllerRevision's
//! data, which StatefulSets name their revisions by
//! (`history.HashControllerRevision`).
//!
//! Where minik differs on purpose: Kubernetes hashes the Go struct's `spew`
//! dump with FNV-32a; that dump cannot be reproduced outside Go, so minik
//! hashes the template's JSON (k8s-openapi field order, sorted maps) with
//! FNV-32a, adds `collisionCount` the way Kubernetes does (8 bytes,
//! little-endian), and encodes the decimal sum with Kubernetes'
//! `SafeEncodeString` alphabet. The values look like Kubernetes' (`7c5ddbdf54`)
//! but differ from what a real cluster would pick for the same template.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// Kubernetes' `rand.SafeEncodeString` alphabet (no vowels, no 0/1/3).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The pod-template hash: FNV-32a over the template's JSON, then
/// `collisionCount` as 8 little-endian bytes, the decimal sum encoded with
/// [`SAFE_ALPHABET`] .
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    hash_bytes(
        &serde_json::to_vec(template).unwrap_or_default(),
        collision_count,
    )
}

/// FNV-32a over `bytes`, then `collisionCount` as 8 little-endian bytes,
/// the decimal sum encoded with [`SAFE_ALPHABET`].
pub fn hash_bytes(bytes: &[u8], collision_count: Option<i32>) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut write = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    write(bytes);
    if let Some(c) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(c as u32).to_le_bytes());
        write(&bytes);
    }
    hash.to_string()
        .bytes()
        .map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn hash_is_stable_and_collision_count_changes_it() {
        let t = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
            spec: None,
        };
        let h = compute_hash(&t, None);
        assert_eq!(h, compute_hash(&t, None));
        assert_ne!(h, compute_hash(&t, Some(1)));
        assert!(h.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
        assert!((6..=10).contains(&h.len()));
    }
}
