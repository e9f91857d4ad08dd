/**
 * Where a predictor's model repository comes from: `storageUri` becomes an init container
 * that copies it into an emptyDir at /mnt/models (s3://, gs://, http(s):// archives), or a
 * read-only mount of a PersistentVolumeClaim (pvc://CLAIM/PATH).
 */

export const MODEL_DIR = '/mnt/models';
const MODEL_VOLUME = 'model-repository';

export interface StorageImages {
  s3: string;
  gs: string;
  http: string;
}

export const DEFAULT_STORAGE_IMAGES: StorageImages = {
  s3: 'amazon/aws-cli:2.22.35',
  gs: 'gcr.io/google.com/cloudsdktool/google-cloud-cli:502.0.0-slim',
  http: 'curlimages/curl:8.11.1',
};

/** What a pod needs to find its models at /mnt/models. */
export interface ModelStorage {
  initContainers: unknown[];
  volumes: unknown[];
  volumeMount: { name: string; mountPath: string; readOnly: true; subPath?: string };
}

/** A storageUri the controller cannot turn into a copy: reported in the InferenceService's status. */
export class StorageUriError extends Error {}

const INIT_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: 1000,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

function copyInto(image: string, command: string[]): ModelStorage {
  return {
    initContainers: [
      {
        name: 'storage-initializer',
        image,
        command,
        // The copy tools keep caches and settings under $HOME; uid 1000 has none in these images.
        env: [{ name: 'HOME', value: '/tmp' }],
        volumeMounts: [{ name: MODEL_VOLUME, mountPath: MODEL_DIR }],
        securityContext: INIT_SECURITY_CONTEXT,
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } },
      },
    ],
    volumes: [{ name: MODEL_VOLUME, emptyDir: {} }],
    volumeMount: { name: MODEL_VOLUME, mountPath: MODEL_DIR, readOnly: true },
  };
}

const ARCHIVE = /\.(tar\.gz|tgz|tar)$/;

export function modelStorage(storageUri: string | undefined, images: StorageImages): ModelStorage {
  if (storageUri === undefined || storageUri === '') throw new StorageUriError('spec.predictor.model.storageUri is required');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(storageUri)?.[1];
  const rest = storageUri.slice((scheme?.length ?? 0) + 3);
  switch (scheme) {
    case 's3':
    case 'gs': {
      if (!/^[^/]+/.test(rest)) throw new StorageUriError(`storageUri '${storageUri}' names no bucket`);
      // The URI travels as an argument, never through a shell.
      return scheme === 's3'
        ? copyInto(images.s3, ['aws', 's3', 'cp', '--recursive', storageUri, MODEL_DIR])
        : copyInto(images.gs, ['gcloud', 'storage', 'cp', '--recursive', `${storageUri.replace(/\/+$/, '')}/*`, MODEL_DIR]);
    }
    case 'http':
    case 'https': {
      const path = new URL(storageUri).pathname;
      if (!ARCHIVE.test(path)) {
        throw new StorageUriError(`storageUri '${storageUri}': an http(s) model repository must be a .tar, .tar.gz or .tgz archive`);
      }
      const unpack = path.endsWith('.tar') ? 'tar -x -C "$2"' : 'tar -xz -C "$2"';
      return copyInto(images.http, ['sh', '-c', `curl --fail --silent --show-error --location "$1" | ${unpack}`, 'storage-initializer', storageUri, MODEL_DIR]);
    }
    case 'pvc': {
      const [claim, ...subPath] = rest.split('/').filter((p) => p !== '');
      if (!claim) throw new StorageUriError(`storageUri '${storageUri}' names no PersistentVolumeClaim (pvc://CLAIM/PATH)`);
      const volumeMount = { name: MODEL_VOLUME, mountPath: MODEL_DIR, readOnly: true as const, ...(subPath.length > 0 ? { subPath: subPath.join('/') } : {}) };
      return { initContainers: [], volumes: [{ name: MODEL_VOLUME, persistentVolumeClaim: { claimName: claim, readOnly: true } }], volumeMount };
    }
    default:
      throw new StorageUriError(
        scheme === undefined
          ? `storageUri '${storageUri}' has no scheme; use s3://, gs://, pvc:// or http(s)://`
          : `storageUri scheme '${scheme}://' is not supported; use s3://, gs://, pvc:// or http(s)://`,
      );
  }
}
