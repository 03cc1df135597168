/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package resources

// The Redis a RedisConfig runs in mode Managed: a ConfigMap with redis.conf,
// an auth Secret, a Service and a one-replica StatefulSet.
//
// Password scheme. The pod reads exactly one Secret, the auth Secret
// (RedisAuthSecretName), and it always has two keys:
//
//   - "password": the plain password, for the probes and the exporter, by
//     secretKeyRef;
//   - "password.conf": requirepass and masterauth lines, rendered by
//     redisconf.RenderPasswordFile, mounted at RedisSecretDir and pulled in
//     by the "include RedisPasswordConfPath" line of redis.conf, so the
//     ConfigMap never holds the password.
//
// Without spec.auth the controller generates a password once into
// "<rc>-redis-auth" (BuildRedisPasswordSecret); that Secret is both the auth
// Secret and the one clients read. With spec.auth.passwordSecretRef the
// user's Secret stays the one clients read, and the controller copies the
// password into "<rc>-redis-auth-conf" (BuildRedisAuthConfSecret), which
// then is the auth Secret. Redis, its probes and the exporter thus always
// take the password from the same object and can never disagree during a
// rotation; the controller passes a hash of that Secret's data to
// BuildRedisStatefulSet so a new password rolls the pod.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/redisconf"
)

// Labels, names and defaults of the managed Redis.
const (
	// RedisAppName is the value of LabelName on the managed Redis objects.
	RedisAppName = "redis"
	// ComponentRedis is the value of LabelComponent on the managed Redis
	// objects.
	ComponentRedis = "redis"

	// AnnotationConfigHash on the Redis pod template holds the hash of the
	// redis.conf keys that only take effect on a restart, so changing one
	// rolls the pod while runtime keys are applied with CONFIG SET.
	AnnotationConfigHash = "queueworker.io/config-hash"

	// DefaultRedisImage is the Redis image when spec.managed.image is unset.
	DefaultRedisImage = "redis:7.4"
	// DefaultRedisExporterImage is the exporter image when
	// spec.managed.exporter.image is unset.
	DefaultRedisExporterImage = "oliver006/redis_exporter:v1.62.0"
	// DefaultRedisStorageSize is the data volume's size when
	// spec.managed.storage.size is unset.
	DefaultRedisStorageSize = "1Gi"

	// RedisPort is the port Redis serves on, in plain text or, with
	// spec.tls, TLS only (redis.conf then says "port 0" and "tls-port 6379").
	RedisPort int32 = 6379
	// RedisPortName names RedisPort without TLS.
	RedisPortName = "redis"
	// RedisTLSPortName names RedisPort with TLS.
	RedisTLSPortName = "tls-port"
	// RedisExporterPort is where the exporter serves metrics.
	RedisExporterPort int32 = 9121
	// RedisExporterPortName names RedisExporterPort.
	RedisExporterPortName = "metrics"

	// RedisContainerName is the Redis server's container.
	RedisContainerName = "redis"
	// RedisExporterContainerName is the exporter sidecar's container.
	RedisExporterContainerName = "exporter"

	// RedisConfigKey is the ConfigMap key holding redis.conf.
	RedisConfigKey = "redis.conf"
	// RedisPasswordKey is the key of the plain password in the auth Secret
	// and in a generated password Secret.
	RedisPasswordKey = "password"
	// RedisPasswordConfKey is the auth Secret key holding the requirepass
	// and masterauth lines.
	RedisPasswordConfKey = "password.conf"
	// RedisPasswordEnv is the variable the probes and the exporter read
	// the password from.
	RedisPasswordEnv = "REDIS_PASSWORD"

	// RedisConfigDir is where the ConfigMap is mounted. It is a directory
	// mount, not a subPath, so a restarted container reads the current
	// redis.conf rather than the one its pod started with.
	RedisConfigDir = "/etc/redis/conf"
	// RedisConfigPath is the file redis-server is started with.
	RedisConfigPath = RedisConfigDir + "/" + RedisConfigKey
	// RedisSecretDir is where the auth Secret is mounted.
	RedisSecretDir = "/etc/redis/secret"
	// RedisPasswordConfPath is the file redis.conf must include.
	RedisPasswordConfPath = RedisSecretDir + "/" + RedisPasswordConfKey
	// RedisTLSDir is where spec.tls.certSecretName is mounted.
	RedisTLSDir = "/etc/redis/tls"
	// RedisTLSCertPath is tls-cert-file.
	RedisTLSCertPath = RedisTLSDir + "/" + corev1.TLSCertKey
	// RedisTLSKeyPath is tls-key-file.
	RedisTLSKeyPath = RedisTLSDir + "/" + corev1.TLSPrivateKeyKey
	// RedisTLSCAPath is tls-ca-cert-file.
	RedisTLSCAPath = RedisTLSDir + "/" + corev1.ServiceAccountRootCAKey
	// RedisDataDir is Redis's working directory (dir): the append-only
	// file and snapshots, and the only path Redis writes to.
	RedisDataDir = "/data"
	// RedisDataVolumeName names the data volume and its claim template.
	RedisDataVolumeName = "data"

	// RedisUser is the uid and gid of the redis user in the official
	// image. The pod runs as it, and fsGroup makes the mounted Secrets and
	// the data volume readable by it.
	RedisUser int64 = 999

	// RedisTerminationGracePeriodSeconds leaves Redis time to fsync the
	// append-only file or write a final snapshot on SIGTERM.
	RedisTerminationGracePeriodSeconds int64 = 60

	// MaxRedisConfigNameLength is the longest RedisConfig name in mode
	// Managed: "<name>-redis" names the StatefulSet, whose pods carry a
	// controller-revision-hash label of "<statefulset>-<hash>" that must fit
	// in 63 characters.
	MaxRedisConfigNameLength = 46
)

// Name suffixes of the managed Redis objects, and volume names.
const (
	redisSuffix           = "-redis"
	redisConfigMapSuffix  = "-redis-config"
	redisPasswordSuffix   = "-redis-auth"
	redisAuthConfSuffix   = "-redis-auth-conf"
	redisConfigVolumeName = "config"
	redisAuthVolumeName   = "auth"
	redisTLSVolumeName    = "tls"
)

// ErrInvalidRedisConfigName is returned for a RedisConfig name that cannot
// name the managed Redis objects.
var ErrInvalidRedisConfigName = errors.New("invalid RedisConfig name for mode Managed")

// RedisSelectorLabels select a RedisConfig's Redis pods. They never change
// after the StatefulSet is created: its selector is immutable.
func RedisSelectorLabels(rc *queueworkerv1alpha1.RedisConfig) map[string]string {
	return map[string]string{
		LabelName:     RedisAppName,
		LabelInstance: rc.Name,
	}
}

// RedisLabels are the labels of every object of a RedisConfig's managed
// Redis and of its pod.
func RedisLabels(rc *queueworkerv1alpha1.RedisConfig) map[string]string {
	l := RedisSelectorLabels(rc)
	l[LabelComponent] = ComponentRedis
	l[LabelManagedBy] = ManagerName
	l[LabelPartOf] = AppName
	return l
}

// RedisStatefulSetName is "<rc>-redis".
func RedisStatefulSetName(rc *queueworkerv1alpha1.RedisConfig) string {
	return rc.Name + redisSuffix
}

// RedisServiceName is "<rc>-redis", the host clients connect to.
func RedisServiceName(rc *queueworkerv1alpha1.RedisConfig) string {
	return rc.Name + redisSuffix
}

// RedisConfigMapName is "<rc>-redis-config".
func RedisConfigMapName(rc *queueworkerv1alpha1.RedisConfig) string {
	return rc.Name + redisConfigMapSuffix
}

// RedisPasswordSecretName is "<rc>-redis-auth", the Secret a generated
// password lives in.
func RedisPasswordSecretName(rc *queueworkerv1alpha1.RedisConfig) string {
	return rc.Name + redisPasswordSuffix
}

// RedisAuthConfSecretName is "<rc>-redis-auth-conf", the Secret derived from
// a user-provided password.
func RedisAuthConfSecretName(rc *queueworkerv1alpha1.RedisConfig) string {
	return rc.Name + redisAuthConfSuffix
}

// RedisUserPassword reports whether the user provides the password
// (spec.auth.passwordSecretRef) instead of having it generated.
func RedisUserPassword(rc *queueworkerv1alpha1.RedisConfig) bool {
	return rc.Spec.Auth != nil && rc.Spec.Auth.PasswordSecretRef != nil
}

// RedisAuthSecretName is the Secret the Redis pod reads: the derived
// "<rc>-redis-auth-conf" for a user-provided password, else the generated
// "<rc>-redis-auth". Both carry RedisPasswordKey and RedisPasswordConfKey.
func RedisAuthSecretName(rc *queueworkerv1alpha1.RedisConfig) string {
	if RedisUserPassword(rc) {
		return RedisAuthConfSecretName(rc)
	}
	return RedisPasswordSecretName(rc)
}

// RedisPasswordSecretKey is where clients find the password, for
// status.passwordSecretRef: the user's Secret when they provide one, else
// the generated Secret.
func RedisPasswordSecretKey(rc *queueworkerv1alpha1.RedisConfig) SecretKey {
	if RedisUserPassword(rc) {
		ref := rc.Spec.Auth.PasswordSecretRef
		return SecretKey{Name: ref.Name, Key: ref.Key}
	}
	return SecretKey{Name: RedisPasswordSecretName(rc), Key: RedisPasswordKey}
}

// RedisAddress is host:port of the managed Redis: its Service's DNS name in
// the RedisConfig's namespace.
func RedisAddress(rc *queueworkerv1alpha1.RedisConfig) string {
	host := RedisServiceName(rc) + "." + rc.Namespace + ".svc"
	return net.JoinHostPort(host, strconv.Itoa(int(RedisPort)))
}

// RedisTLSEnabled reports whether the managed Redis serves TLS only.
func RedisTLSEnabled(rc *queueworkerv1alpha1.RedisConfig) bool {
	return rc.Spec.TLS != nil && rc.Spec.TLS.CertSecretName != ""
}

// RedisPersistent reports whether Redis writes anything worth keeping: the
// append-only file (on unless disabled) or snapshots (save rules). Only
// then does the StatefulSet claim a volume.
func RedisPersistent(rc *queueworkerv1alpha1.RedisConfig) bool {
	p := rc.Spec.Persistence
	aof := p.AOF.Enabled == nil || *p.AOF.Enabled
	rdb := p.RDB != nil && len(p.RDB.Save) > 0
	return aof || rdb
}

// CheckRedisConfigName returns ErrInvalidRedisConfigName, wrapped, for a
// name that cannot name the managed Redis: the Service name must be a DNS
// label (start with a letter) and the StatefulSet name short enough for its
// pods' labels. The API server accepts such a RedisConfig; the controller
// refuses it instead of creating objects that the API server rejects.
func CheckRedisConfigName(name string) error {
	if len(name) > MaxRedisConfigNameLength {
		return fmt.Errorf("%w: it has %d characters and at most %d fit, because the StatefulSet <name>%s labels "+
			"its pods with controller-revision-hash <name>%s-<hash>, which must fit in 63; a name cannot change, "+
			"so create the RedisConfig again under a shorter one", ErrInvalidRedisConfigName,
			len(name), MaxRedisConfigNameLength, redisSuffix, redisSuffix)
	}
	if errs := validation.IsDNS1035Label(name + redisSuffix); len(errs) > 0 {
		return fmt.Errorf("%w: Service name %q: %s", ErrInvalidRedisConfigName, name+redisSuffix, strings.Join(errs, "; "))
	}
	return nil
}

// GeneratePassword reads 32 bytes from r (crypto/rand.Reader in the
// controller) and encodes them as unpadded base64url: 43 characters that
// need no quoting in redis.conf, a shell or a redis:// URL.
func GeneratePassword(r io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// BuildRedisConfigMap returns the ConfigMap holding the rendered redis.conf.
// conf must include RedisPasswordConfPath and never hold the password.
func BuildRedisConfigMap(rc *queueworkerv1alpha1.RedisConfig, conf []byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: redisObjectMeta(rc, RedisConfigMapName(rc)),
		Data:       map[string]string{RedisConfigKey: string(conf)},
	}
}

// BuildRedisPasswordSecret returns the Secret for a generated password:
// clients read RedisPasswordKey, the pod mounts RedisPasswordConfKey. The
// controller creates it once and never regenerates a password that exists.
func BuildRedisPasswordSecret(rc *queueworkerv1alpha1.RedisConfig, password string) (*corev1.Secret, error) {
	sec, err := buildRedisAuthSecret(rc, RedisPasswordSecretName(rc), password)
	if err != nil {
		return nil, err
	}
	sec.Annotations = RedisPasswordSecretAnnotations(rc)
	return sec, nil
}

// RedisPasswordSecretAnnotations let the QueueWorkers of the namespace use
// the generated password, and only with the managed server's address: a
// QueueWorker that names the Secret with another address is refused.
func RedisPasswordSecretAnnotations(rc *queueworkerv1alpha1.RedisConfig) map[string]string {
	return map[string]string{
		queueworkerv1alpha1.AnnotationSecretUsableBy:   queueworkerv1alpha1.KindQueueWorker,
		queueworkerv1alpha1.AnnotationSecretUsableWith: RedisAddress(rc),
	}
}

// BuildRedisAuthConfSecret returns the Secret derived from the password in
// spec.auth.passwordSecretRef. It has the same keys as a generated one, so
// the pod reads either the same way; the controller rewrites it when the
// user's Secret changes.
func BuildRedisAuthConfSecret(rc *queueworkerv1alpha1.RedisConfig, password string) (*corev1.Secret, error) {
	return buildRedisAuthSecret(rc, RedisAuthConfSecretName(rc), password)
}

// buildRedisAuthSecret returns an auth Secret holding password, or the
// *redisconf.FieldError of a password redisconf.CheckPassword refuses.
func buildRedisAuthSecret(rc *queueworkerv1alpha1.RedisConfig, name, password string) (*corev1.Secret, error) {
	conf, err := redisconf.RenderPasswordFile(password)
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: redisObjectMeta(rc, name),
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			RedisPasswordKey:     []byte(password),
			RedisPasswordConfKey: conf,
		},
	}, nil
}

// BuildRedisService returns the ClusterIP Service clients reach Redis
// through, with the exporter's port when the exporter runs.
func BuildRedisService(rc *queueworkerv1alpha1.RedisConfig) *corev1.Service {
	redisPort := redisPortName(rc)
	ports := []corev1.ServicePort{{
		Name:       redisPort,
		Port:       RedisPort,
		TargetPort: intstr.FromString(redisPort),
		Protocol:   corev1.ProtocolTCP,
	}}
	if redisExporter(rc) != nil {
		ports = append(ports, corev1.ServicePort{
			Name:       RedisExporterPortName,
			Port:       RedisExporterPort,
			TargetPort: intstr.FromString(RedisExporterPortName),
			Protocol:   corev1.ProtocolTCP,
		})
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: redisObjectMeta(rc, RedisServiceName(rc)),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: RedisSelectorLabels(rc),
			Ports:    ports,
		},
	}
}

// BuildRedisStatefulSet returns the one-replica StatefulSet that runs Redis
// for rc in mode Managed.
//
// restartHash is redisconf.RestartHash, the hash of the redis.conf keys
// that only take effect on a restart; it goes into the pod annotation
// AnnotationConfigHash, so a change to one of them rolls the pod. Keys
// applied at runtime with CONFIG SET must not feed it. secretHash is a hash
// of the auth Secret's data, in AnnotationSecretHash, so a new password
// restarts Redis with it. Either may be empty to leave its annotation out.
//
// The data volume is a claim template when RedisPersistent, else an
// emptyDir. Claim templates cannot change on an existing StatefulSet: when
// RedisPersistent flips, the controller has to delete the StatefulSet and
// create it again. The StatefulSet carries AnnotationTemplateHash, a hash of
// its whole spec, so an unchanged one need not be written.
func BuildRedisStatefulSet(rc *queueworkerv1alpha1.RedisConfig, restartHash, secretHash string) *appsv1.StatefulSet {
	managed := rc.Spec.Managed
	if managed == nil {
		managed = &queueworkerv1alpha1.ManagedRedis{}
	}
	authSecret := RedisAuthSecretName(rc)
	passwordEnv := secretValue(RedisPasswordEnv, SecretKey{Name: authSecret, Key: RedisPasswordKey})
	tls := RedisTLSEnabled(rc)

	volumes := []corev1.Volume{
		{Name: redisConfigVolumeName, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: RedisConfigMapName(rc)},
			Items:                []corev1.KeyToPath{{Key: RedisConfigKey, Path: RedisConfigKey}},
		}}},
		// 0440: fsGroup makes the group RedisUser, the owner stays root.
		{Name: redisAuthVolumeName, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  authSecret,
			Items:       []corev1.KeyToPath{{Key: RedisPasswordConfKey, Path: RedisPasswordConfKey}},
			DefaultMode: ptr.To[int32](0o440),
		}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: redisConfigVolumeName, MountPath: RedisConfigDir, ReadOnly: true},
		{Name: redisAuthVolumeName, MountPath: RedisSecretDir, ReadOnly: true},
		{Name: RedisDataVolumeName, MountPath: RedisDataDir},
	}
	var tlsMount corev1.VolumeMount
	if tls {
		volumes = append(volumes, corev1.Volume{Name: redisTLSVolumeName, VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: rc.Spec.TLS.CertSecretName, DefaultMode: ptr.To[int32](0o440)},
		}})
		tlsMount = corev1.VolumeMount{Name: redisTLSVolumeName, MountPath: RedisTLSDir, ReadOnly: true}
		mounts = append(mounts, tlsMount)
	}

	var claims []corev1.PersistentVolumeClaim
	if RedisPersistent(rc) {
		claims = []corev1.PersistentVolumeClaim{redisDataClaim(rc, managed.Storage)}
	} else {
		volumes = append(volumes, corev1.Volume{Name: RedisDataVolumeName,
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}

	image := managed.Image
	if image == "" {
		image = DefaultRedisImage
	}
	containers := []corev1.Container{{
		Name:    RedisContainerName,
		Image:   image,
		Command: []string{"redis-server", RedisConfigPath},
		Ports: []corev1.ContainerPort{{
			Name:          redisPortName(rc),
			ContainerPort: RedisPort,
			Protocol:      corev1.ProtocolTCP,
		}},
		Env:          []corev1.EnvVar{passwordEnv},
		Resources:    *managed.Resources.DeepCopy(),
		VolumeMounts: mounts,
		// Readiness wants PONG. Liveness also accepts LOADING: replaying a
		// large append-only file must not get Redis killed and replaying
		// again.
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     redisPingProbe(rc, "^PONG$"),
			PeriodSeconds:    5,
			TimeoutSeconds:   3,
			FailureThreshold: 3,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:        redisPingProbe(rc, "^(PONG|LOADING)"),
			InitialDelaySeconds: 10,
			PeriodSeconds:       10,
			TimeoutSeconds:      5,
			FailureThreshold:    6,
		},
		SecurityContext: redisContainerSecurityContext(),
	}}
	if exp := redisExporter(rc); exp != nil {
		containers = append(containers, redisExporterContainer(rc, exp, passwordEnv, tlsMount))
	}

	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: RedisLabels(rc)},
		Spec: corev1.PodSpec{
			Containers:                    containers,
			Volumes:                       volumes,
			TerminationGracePeriodSeconds: ptr.To(RedisTerminationGracePeriodSeconds),
			// Redis talks to no API server, and service links would put
			// REDIS_* variables of a Service named "redis" into its env.
			AutomountServiceAccountToken: ptr.To(false),
			EnableServiceLinks:           ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:        ptr.To(true),
				RunAsUser:           ptr.To(RedisUser),
				RunAsGroup:          ptr.To(RedisUser),
				FSGroup:             ptr.To(RedisUser),
				FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
				SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		},
	}
	annotations := map[string]string{}
	if restartHash != "" {
		annotations[AnnotationConfigHash] = restartHash
	}
	if secretHash != "" {
		annotations[AnnotationSecretHash] = secretHash
	}
	if len(annotations) > 0 {
		tmpl.Annotations = annotations
	}

	sts := &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: redisObjectMeta(rc, RedisStatefulSetName(rc)),
		Spec: appsv1.StatefulSetSpec{
			Replicas:             ptr.To[int32](1),
			ServiceName:          RedisServiceName(rc),
			Selector:             &metav1.LabelSelector{MatchLabels: RedisSelectorLabels(rc)},
			Template:             tmpl,
			VolumeClaimTemplates: claims,
			// The queues outlive the StatefulSet: deleting the RedisConfig
			// leaves the claim for the user to delete or reuse.
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
		},
	}
	sts.Annotations = map[string]string{AnnotationTemplateHash: redisSpecHash(&sts.Spec)}
	return sts
}

func redisObjectMeta(rc *queueworkerv1alpha1.RedisConfig, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: rc.Namespace, Labels: RedisLabels(rc)}
}

func redisPortName(rc *queueworkerv1alpha1.RedisConfig) string {
	if RedisTLSEnabled(rc) {
		return RedisTLSPortName
	}
	return RedisPortName
}

// RedisImages are the images a managed Redis runs: the server's, and the
// exporter's when it is enabled.
func RedisImages(rc *queueworkerv1alpha1.RedisConfig) []string {
	images := []string{DefaultRedisImage}
	if m := rc.Spec.Managed; m != nil && m.Image != "" {
		images[0] = m.Image
	}
	if exp := redisExporter(rc); exp != nil {
		image := exp.Image
		if image == "" {
			image = DefaultRedisExporterImage
		}
		images = append(images, image)
	}
	return images
}

// redisExporter is the exporter's spec when it runs, else nil.
func redisExporter(rc *queueworkerv1alpha1.RedisConfig) *queueworkerv1alpha1.RedisExporter {
	if m := rc.Spec.Managed; m != nil && m.Exporter != nil && m.Exporter.Enabled {
		return m.Exporter
	}
	return nil
}

// redisDataClaim is the data volume's claim template. Its labels are the
// selector labels only: claim templates are immutable, and those never
// change.
func redisDataClaim(rc *queueworkerv1alpha1.RedisConfig, storage queueworkerv1alpha1.ManagedStorage) corev1.PersistentVolumeClaim {
	size := resource.MustParse(DefaultRedisStorageSize)
	if storage.Size != nil {
		size = storage.Size.DeepCopy()
	}
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: RedisDataVolumeName, Labels: RedisSelectorLabels(rc)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: size},
			},
			StorageClassName: redisStorageClass(storage.StorageClassName),
		},
	}
}

func redisStorageClass(name *string) *string {
	if name == nil {
		return nil
	}
	return ptr.To(*name)
}

// redisPingProbe runs redis-cli PING against the local server and passes
// when the reply matches the extended regular expression want. The password
// reaches redis-cli through REDISCLI_AUTH, copied from RedisPasswordEnv by
// the shell: it never appears in the pod spec or in any process's argv.
func redisPingProbe(rc *queueworkerv1alpha1.RedisConfig, want string) corev1.ProbeHandler {
	args := []string{"redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(int(RedisPort))}
	if RedisTLSEnabled(rc) {
		// redis-cli checks the chain against the CA but not the host name,
		// so 127.0.0.1 is fine whatever names the certificate carries.
		args = append(args, "--tls", "--cacert", RedisTLSCAPath)
		if rc.Spec.TLS.RequireClientCerts {
			args = append(args, "--cert", RedisTLSCertPath, "--key", RedisTLSKeyPath)
		}
	}
	script := `REDISCLI_AUTH="$` + RedisPasswordEnv + `" ` + strings.Join(args, " ") + ` ping | grep -qE '` + want + `'`
	return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", script}}}
}

// redisExporterContainer is the redis_exporter sidecar. It has a liveness
// probe but no readiness probe: an exporter that is not ready must not take
// Redis out of its Service.
func redisExporterContainer(rc *queueworkerv1alpha1.RedisConfig, exp *queueworkerv1alpha1.RedisExporter, passwordEnv corev1.EnvVar, tlsMount corev1.VolumeMount) corev1.Container {
	image := exp.Image
	if image == "" {
		image = DefaultRedisExporterImage
	}
	scheme := "redis"
	if RedisTLSEnabled(rc) {
		scheme = "rediss"
	}
	env := []corev1.EnvVar{
		value("REDIS_ADDR", scheme+"://localhost:"+strconv.Itoa(int(RedisPort))),
		passwordEnv,
	}
	var mounts []corev1.VolumeMount
	if RedisTLSEnabled(rc) {
		// The exporter checks host names and has no option to name the one
		// to expect; the connection never leaves the pod's loopback
		// interface, so there is nothing to verify.
		env = append(env, value("REDIS_EXPORTER_SKIP_TLS_VERIFICATION", "true"))
		if rc.Spec.TLS.RequireClientCerts {
			env = append(env,
				value("REDIS_EXPORTER_TLS_CLIENT_CERT_FILE", RedisTLSCertPath),
				value("REDIS_EXPORTER_TLS_CLIENT_KEY_FILE", RedisTLSKeyPath))
			mounts = []corev1.VolumeMount{tlsMount}
		}
	}
	return corev1.Container{
		Name:  RedisExporterContainerName,
		Image: image,
		Ports: []corev1.ContainerPort{{
			Name:          RedisExporterPortName,
			ContainerPort: RedisExporterPort,
			Protocol:      corev1.ProtocolTCP,
		}},
		Env:          env,
		Resources:    *exp.Resources.DeepCopy(),
		VolumeMounts: mounts,
		LivenessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/health",
				Port: intstr.FromString(RedisExporterPortName),
			}},
			PeriodSeconds:    20,
			TimeoutSeconds:   5,
			FailureThreshold: 3,
		},
		SecurityContext: redisContainerSecurityContext(),
	}
}

// redisContainerSecurityContext is the restricted Pod Security Standard
// plus a read-only root file system: Redis writes only to RedisDataDir, and
// neither redis-cli in batch mode nor the exporter writes at all.
func redisContainerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// redisSpecHash is a short stable hash of a StatefulSet spec.
func redisSpecHash(spec *appsv1.StatefulSetSpec) string {
	b, err := json.Marshal(spec)
	if err != nil {
		// A StatefulSetSpec always marshals; a panic here is a bug.
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}
