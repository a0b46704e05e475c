{{/* Names and labels. */}}
{{- define "haimaker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "haimaker.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "haimaker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "haimaker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "haimaker.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "haimaker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "haimaker.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "haimaker.configMapName" -}}
{{- if .Values.proxyConfigMap.create }}
{{- include "haimaker.fullname" . }}-config
{{- else }}
{{- required "proxyConfigMap.name is required when proxyConfigMap.create is false" .Values.proxyConfigMap.name }}
{{- end }}
{{- end }}

{{/* The Secret the pods read: existingSecret, else the chart's own. */}}
{{- define "haimaker.secretName" -}}
{{- default (include "haimaker.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* "true" when the pods have a database. */}}
{{- define "haimaker.hasDatabase" -}}
{{- if or .Values.db.useExisting .Values.databaseUrl (and .Values.existingSecret .Values.existingSecretKeys.databaseUrl) }}true{{- end }}
{{- end }}

{{/* "true" when the migrations Job is rendered. */}}
{{- define "haimaker.migrationJob" -}}
{{- if and .Values.migrationJob.enabled (include "haimaker.hasDatabase" .) }}true{{- end }}
{{- end }}

{{/*
The database environment. $secret: the Secret holding DATABASE_URL when the chart or the
operator manages it (the pods' Secret, or the migrations hook Secret for the Job).
*/}}
{{- define "haimaker.databaseEnv" -}}
{{- $ := index . 0 }}
{{- $secret := index . 1 }}
{{- if $.Values.db.useExisting }}
- name: DATABASE_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.db.secret.name }}
      key: {{ $.Values.db.secret.usernameKey }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.db.secret.name }}
      key: {{ $.Values.db.secret.passwordKey }}
- name: DATABASE_HOST
  value: {{ $.Values.db.endpoint | quote }}
- name: DATABASE_NAME
  value: {{ $.Values.db.database | quote }}
{{- with $.Values.db.url }}
- name: DATABASE_URL
  value: {{ . | quote }}
{{- end }}
{{- else if $.Values.existingSecret }}
{{- with $.Values.existingSecretKeys.databaseUrl }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.existingSecret }}
      key: {{ . }}
      optional: true
{{- end }}
{{- else if $.Values.databaseUrl }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: DATABASE_URL
{{- end }}
{{- end }}

{{/* The supervisor's command line (the image's ENTRYPOINT is `haimaker`). */}}
{{- define "haimaker.args" -}}
- --config
- /etc/haimaker/{{ .Values.proxyConfigMap.key }}
- --port
- "4000"
- --num_workers
- {{ .Values.numWorkers | quote }}
- --graceful_timeout
- {{ .Values.gracefulTimeout | quote }}
{{- with .Values.recycling }}
{{- if not (kindIs "invalid" .maxRequestsBeforeRestart) }}
- --max_requests_before_restart
- {{ .maxRequestsBeforeRestart | quote }}
{{- end }}
{{- if not (kindIs "invalid" .maxRequestsBeforeRestartJitter) }}
- --max_requests_before_restart_jitter
- {{ .maxRequestsBeforeRestartJitter | quote }}
{{- end }}
{{- if not (kindIs "invalid" .maxWorkerMemoryMb) }}
- --max_worker_memory_mb
- {{ .maxWorkerMemoryMb | quote }}
{{- end }}
{{- if not (kindIs "invalid" .minWorkerLifetime) }}
- --min_worker_lifetime
- {{ .minWorkerLifetime | quote }}
{{- end }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/* Refuse values that cannot work. */}}
{{- define "haimaker.validate" -}}
{{- if not .Values.existingSecret }}
{{- if not .Values.masterKey }}
{{- fail "set masterKey (it must start with sk-) or existingSecret (a Secret holding LITELLM_MASTER_KEY)" }}
{{- end }}
{{- if not (hasPrefix "sk-" .Values.masterKey) }}
{{- fail "masterKey must start with sk-" }}
{{- end }}
{{- end }}
{{- if and .Values.db.useExisting .Values.databaseUrl }}
{{- fail "set either db.useExisting or databaseUrl, not both" }}
{{- end }}
{{- if and .Values.redis.enabled (not .Values.redis.host) }}
{{- fail "redis.enabled needs redis.host" }}
{{- end }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add (int .Values.preStopSleepSeconds) (ceil .Values.gracefulTimeout | int)) }}
{{- fail "terminationGracePeriodSeconds must exceed preStopSleepSeconds + gracefulTimeout, or Kubernetes kills requests that are still draining" }}
{{- end }}
{{- end }}
