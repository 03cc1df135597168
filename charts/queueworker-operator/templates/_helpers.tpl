{{/*
The chart name, or nameOverride; the value of app.kubernetes.io/name.
*/}}
{{- define "queueworker-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The base name of every object: fullnameOverride, else the release name with
the chart name appended unless the release name already contains it.
*/}}
{{- define "queueworker-operator.fullname" -}}
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

{{/*
The name of one object: the base name, then "-" and a suffix naming the
object. The base name is shortened so that the suffix always survives the
63-character limit, which keeps the names of different objects distinct.
Call it with (list . "suffix").
*/}}
{{- define "queueworker-operator.objectName" -}}
{{- $ctx := index . 0 }}
{{- $suffix := index . 1 }}
{{- $base := include "queueworker-operator.fullname" $ctx | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" }}
{{- printf "%s-%s" $base $suffix }}
{{- end }}

{{/*
The value of the helm.sh/chart label.
*/}}
{{- define "queueworker-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The labels that select the operator pods. They are immutable in the
Deployment's selector: never add to them.
*/}}
{{- define "queueworker-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "queueworker-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The labels of every object of the chart.
*/}}
{{- define "queueworker-operator.labels" -}}
helm.sh/chart: {{ include "queueworker-operator.chart" . }}
{{ include "queueworker-operator.selectorLabels" . }}
{{- with .Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The name of the ServiceAccount the operator runs as.
*/}}
{{- define "queueworker-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "queueworker-operator.objectName" (list . "controller-manager")) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name must name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The subjects list binding a role to the operator's ServiceAccount.
*/}}
{{- define "queueworker-operator.subjects" -}}
subjects:
  - kind: ServiceAccount
    name: {{ include "queueworker-operator.serviceAccountName" . }}
    namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
The image of the operator: repository:tag, the tag defaulting to appVersion.
*/}}
{{- define "queueworker-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The rules of the operator's role, as YAML. They are the rules of the
ClusterRole that controller-gen generates into config/rbac/role.yaml from
the +kubebuilder:rbac markers; `make manifests` copies them into
files/manager-rules.yaml, so the chart grants exactly what the code declares.
*/}}
{{- define "queueworker-operator.managerRules" -}}
{{- $raw := .Files.Get "files/manager-rules.yaml" }}
{{- if not $raw }}
{{- fail "files/manager-rules.yaml is missing from the chart; run `make manifests`" }}
{{- end }}
{{- $rules := fromYamlArray $raw }}
{{- if not $rules }}
{{- fail "files/manager-rules.yaml holds no rules; run `make manifests`" }}
{{- end }}
{{- range $rules }}
{{- if not (kindIs "map" .) }}
{{- fail (printf "files/manager-rules.yaml is not a list of RBAC rules (%v); run `make manifests`" .) }}
{{- end }}
{{- end }}
{{- toYaml $rules }}
{{- end }}

{{/*
The labels that select the dashboard pods. Their app.kubernetes.io/name
differs from the operator's, so neither the operator's Deployment nor its
metrics Service selects a dashboard pod.
*/}}
{{- define "queueworker-operator.dashboardSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-dashboard" (include "queueworker-operator.name" . | trunc 53 | trimSuffix "-") }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The labels of the dashboard's objects.
*/}}
{{- define "queueworker-operator.dashboardLabels" -}}
helm.sh/chart: {{ include "queueworker-operator.chart" . }}
{{ include "queueworker-operator.dashboardSelectorLabels" . }}
app.kubernetes.io/component: dashboard
app.kubernetes.io/part-of: {{ include "queueworker-operator.name" . }}
{{- with .Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The image of the dashboard: dashboard.image, each empty field taken from
the operator's image, which holds the dashboard binary too.
*/}}
{{- define "queueworker-operator.dashboardImage" -}}
{{- $repo := .Values.dashboard.image.repository | default .Values.image.repository }}
{{- $tag := .Values.dashboard.image.tag | default .Values.image.tag | default .Chart.AppVersion }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}
