//! Services plugins offer each other, by name and type: the provider offers one under a
//! [`ServiceKey`], a consumer looks it up in [`Services`]. Below the record engine, which hands
//! them to write hooks; it knows nothing of plugins.

use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// Asked for a service nobody offers, or one of another type.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no plugin offers the service '{0}': install and enable the plugin that provides it")]
    Missing(String),
    #[error("service '{0}' is not of the type asked for")]
    WrongType(String),
}

/// A service's name together with its type, stated once next to the type: the provider
/// registers with [`ServiceKey::offer`], a consumer looks up with [`Services::lookup`] (or
/// `PluginContext::service_by`), and neither can name the other type by mistake.
pub struct ServiceKey<T> {
    name: &'static str,
    service: PhantomData<fn() -> T>,
}

impl<T: Any + Send + Sync> ServiceKey<T> {
    pub const fn new(name: &'static str) -> ServiceKey<T> {
        ServiceKey {
            name,
            service: PhantomData,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The entry `Plugin::services()` returns to offer `service` under this key.
    pub fn offer(&self, service: T) -> (String, Arc<dyn Any + Send + Sync>) {
        (self.name.to_string(), Arc::new(service))
    }
}

impl<T> Clone for ServiceKey<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ServiceKey<T> {}

impl<T> std::fmt::Debug for ServiceKey<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServiceKey({})", self.name)
    }
}

/// Services offered by loaded plugins, by name.
#[derive(Default)]
pub struct Services(pub(super) HashMap<String, Arc<dyn Any + Send + Sync>>);

impl Services {
    /// The service registered under `key`, of the key's type.
    pub fn lookup<T: Any + Send + Sync>(
        &self,
        key: &ServiceKey<T>,
    ) -> Result<Arc<T>, ServiceError> {
        self.get::<T>(key.name)
    }

    pub fn get<T: Any + Send + Sync>(&self, name: &str) -> Result<Arc<T>, ServiceError> {
        let service = self
            .0
            .get(name)
            .ok_or_else(|| ServiceError::Missing(name.to_string()))?;
        service
            .clone()
            .downcast::<T>()
            .map_err(|_| ServiceError::WrongType(name.to_string()))
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.keys().cloned().collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u32);

    #[test]
    fn a_typed_key_finds_what_it_offered_and_names_the_wrong_type() {
        const COUNTER: ServiceKey<Counter> = ServiceKey::new("counter");
        const WRONG: ServiceKey<String> = ServiceKey::new("counter");
        let (name, service) = COUNTER.offer(Counter(7));
        let services = Services(HashMap::from([(name, service)]));
        assert_eq!(services.lookup(&COUNTER).unwrap().0, 7);
        assert!(matches!(
            services.lookup(&WRONG),
            Err(ServiceError::WrongType(n)) if n == "counter"
        ));
        assert!(matches!(
            Services::default().lookup(&COUNTER),
            Err(ServiceError::Missing(_))
        ));
    }
}
