// Alerts: GET /api/v1/alerts, GET /api/v1/alerts/rules and the live
// stream's `alert` event (docs/API.md, "Alerts"; the rules and metrics are
// declared in src/alerts/alerts.h).
import type { IsoTime, Ns } from './common';

export type AlertSeverity = 'info' | 'warning' | 'critical';
export type AlertState = 'firing' | 'resolved';
export type AlertCategory = 'quality' | 'security' | 'fraud' | 'health';
// Which way of a rule's value is bad.
export type AlertDirection = 'above' | 'below';
// What a rule groups by (the alert's key is one such value, "all" for kAll).
export type AlertKeyKind = 'all' | 'src_ip' | 'dst_ip' | 'ip_pair' | 'sensor' | 'caller' |
  'callee' | 'callee_domain' | 'callee_prefix';
// The metric a rule measures (SIPMAN_ALERT_METRICS in src/alerts/alerts.h).
export type AlertMetric = 'asr' | 'ner' | 'pdd_p95' | 'status_share' | 'mos' | 'loss' |
  'one_way_share' | 'register_failures' | 'request_rate' | 'not_found_share' | 'scanner' |
  'malformed' | 'concurrent_calls' | 'prefix_calls' | 'off_hours_calls' | 'short_calls' |
  'kernel_drops' | 'sensor_silent' | 'store_spill';

// One alert: it fired for a key of a rule and, once back past the rule's
// resolve threshold (or with its window empty, or its key evicted),
// resolved. Every object carries both ends, in the unit of the rule's
// metric (AlertRowOf in src/store/alerts_table.cc): `value` and `threshold`
// are the value when it fired and the rule's fire threshold, also once it
// has resolved; `resolved_value` the value when it resolved (0 while
// firing) and `resolve_threshold` the rule's resolve threshold (there
// while firing too). The same in GET /api/v1/alerts, the stream's `alert`
// events and the webhook.
export interface Alert {
  id: number;
  rule: string;
  kind: AlertMetric;
  category: AlertCategory;
  by: AlertKeyKind;
  key: string;
  severity: AlertSeverity;
  state: AlertState;
  fired_at: Ns;
  fired_at_time: IsoTime;
  resolved_at: Ns;             // 0 while firing
  resolved_at_time: IsoTime;   // "" while firing
  value: number;               // when it fired
  threshold: number;           // the rule's fire threshold
  resolved_value: number;      // when it resolved; 0 while firing
  resolve_threshold: number;   // the rule's resolve threshold
  // Call-IDs of calls behind it, or source addresses for keys that are
  // users (an item is a Call-ID unless it is an IP address).
  evidence: string[];
  sensor: string;
  action: '' | 'block' | 'command';
  action_result: string;
}

// GET /api/v1/alerts (state, rule, key, severity, from, to, limit): newest
// first; `firing` counts the alerts firing now, whatever the filter.
export interface AlertsResponse {
  alerts: Alert[];
  firing: number;
}

// One rule with its state now. Without a capture in the process (`live`
// false) keys, firing are 0 and worst_value null.
export interface AlertRule {
  name: string;
  metric: AlertMetric;
  category: AlertCategory;
  by: AlertKeyKind;
  window_s: number;
  min_samples: number;
  fire: number;
  resolve: number;
  direction: AlertDirection;
  unit: string;                // "%", "ms", "/s", "s" or "" (a count, a MOS)
  severity: AlertSeverity;
  action: string;
  builtin: boolean;
  keys: number;                // keys tracked now
  firing: number;
  worst_key: string;
  worst_value: number | null;
}

// GET /api/v1/alerts/rules.
export interface AlertRulesResponse {
  live: boolean;
  rules: AlertRule[];
}
