export {
  installLeafCertificate,
  issueLeafCertificate,
  type PrepareTlsOptions,
  type PrepareTlsResult,
  prepareTls,
  readSealedCaKey,
  TlsError,
  type TlsMaterial,
  tlsFiles,
  writeSealedCaKey,
} from './certificates.ts';
