//! LiteLLM's alert types (`AlertType`) and levels.

/// One alert type, named as LiteLLM names it in `alert_types` and `alert_to_webhook_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertType {
    LlmExceptions,
    LlmTooSlow,
    LlmRequestsHanging,
    BudgetAlerts,
    SpendReports,
    FailedTrackingSpend,
    DbExceptions,
    DailyReports,
    CooldownDeployment,
    NewModelAdded,
    ModelDeprecationWarnings,
    OutageAlerts,
    RegionOutageAlerts,
    FallbackReports,
    NewVirtualKeyCreated,
    VirtualKeyUpdated,
    VirtualKeyDeleted,
    NewTeamCreated,
    TeamUpdated,
    TeamDeleted,
    NewInternalUserCreated,
    InternalUserUpdated,
    InternalUserDeleted,
}

impl AlertType {
    /// Every type, in LiteLLM's order.
    pub const ALL: [AlertType; 23] = [
        Self::LlmExceptions,
        Self::LlmTooSlow,
        Self::LlmRequestsHanging,
        Self::BudgetAlerts,
        Self::SpendReports,
        Self::FailedTrackingSpend,
        Self::DbExceptions,
        Self::DailyReports,
        Self::CooldownDeployment,
        Self::NewModelAdded,
        Self::ModelDeprecationWarnings,
        Self::OutageAlerts,
        Self::RegionOutageAlerts,
        Self::FallbackReports,
        Self::NewVirtualKeyCreated,
        Self::VirtualKeyUpdated,
        Self::VirtualKeyDeleted,
        Self::NewTeamCreated,
        Self::TeamUpdated,
        Self::TeamDeleted,
        Self::NewInternalUserCreated,
        Self::InternalUserUpdated,
        Self::InternalUserDeleted,
    ];

    /// LiteLLM's `DEFAULT_ALERT_TYPES`: everything but the key, team and user lifecycle events,
    /// which are sent only when `alert_types` names them.
    pub fn is_default(self) -> bool {
        (self as u32) <= Self::FallbackReports as u32
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LlmExceptions => "llm_exceptions",
            Self::LlmTooSlow => "llm_too_slow",
            Self::LlmRequestsHanging => "llm_requests_hanging",
            Self::BudgetAlerts => "budget_alerts",
            Self::SpendReports => "spend_reports",
            Self::FailedTrackingSpend => "failed_tracking_spend",
            Self::DbExceptions => "db_exceptions",
            Self::DailyReports => "daily_reports",
            Self::CooldownDeployment => "cooldown_deployment",
            Self::NewModelAdded => "new_model_added",
            Self::ModelDeprecationWarnings => "model_deprecation_warnings",
            Self::OutageAlerts => "outage_alerts",
            Self::RegionOutageAlerts => "region_outage_alerts",
            Self::FallbackReports => "fallback_reports",
            Self::NewVirtualKeyCreated => "new_virtual_key_created",
            Self::VirtualKeyUpdated => "virtual_key_updated",
            Self::VirtualKeyDeleted => "virtual_key_deleted",
            Self::NewTeamCreated => "new_team_created",
            Self::TeamUpdated => "team_updated",
            Self::TeamDeleted => "team_deleted",
            Self::NewInternalUserCreated => "new_internal_user_created",
            Self::InternalUserUpdated => "internal_user_updated",
            Self::InternalUserDeleted => "internal_user_deleted",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Daily reports and new-model notices are sent as they are, without the Level header.
    pub fn is_raw(self) -> bool {
        matches!(self, Self::DailyReports | Self::NewModelAdded)
    }

    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl std::fmt::Display for AlertType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad it is: LiteLLM's `Low | Medium | High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
        }
    }
}

/// A set of alert types (a bit set: checked on the request path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TypeSet(u32);

impl TypeSet {
    pub fn defaults() -> Self {
        Self::from_iter(AlertType::ALL.into_iter().filter(|t| t.is_default()))
    }

    pub fn contains(self, t: AlertType) -> bool {
        self.0 & t.bit() != 0
    }

    pub fn insert(&mut self, t: AlertType) {
        self.0 |= t.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = AlertType> {
        AlertType::ALL
            .into_iter()
            .filter(move |t| self.contains(*t))
    }
}

impl FromIterator<AlertType> for TypeSet {
    fn from_iter<I: IntoIterator<Item = AlertType>>(iter: I) -> Self {
        let mut set = Self(0);
        for t in iter {
            set.insert(t);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_config_list() {
        for t in AlertType::ALL {
            assert_eq!(AlertType::parse(t.as_str()), Some(t));
        }
        let names: Vec<&str> = AlertType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names, haimaker_config::ALERT_TYPES);
    }

    #[test]
    fn lifecycle_events_are_not_default() {
        let defaults = TypeSet::defaults();
        assert!(defaults.contains(AlertType::LlmExceptions));
        assert!(defaults.contains(AlertType::FallbackReports));
        assert!(!defaults.contains(AlertType::NewVirtualKeyCreated));
        assert!(!defaults.contains(AlertType::InternalUserDeleted));
        assert_eq!(defaults.iter().count(), 14);
    }
}
