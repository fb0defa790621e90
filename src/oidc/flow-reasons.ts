/**
 * Reason codes of the login flow's own answers, in one place.
 *
 * The codes themselves live in the shared registry (core/reasons.ts).
 */
import type { ReasonCode } from '../core/reasons.js';

/** 200/302 answers of /login, /oauth/login, /oauth/callback, /logout. */
export const FLOW_ANSWER: ReasonCode = 'login_flow';
/** A login that cannot complete: bad state, bad code, IdP error, bad ID token, bad form. */
export const LOGIN_FAILED: ReasonCode = 'login_failed';
/** The IdP cannot be reached (503). */
export const IDP_UNAVAILABLE: ReasonCode = 'idp_unavailable';

/** Bounded values of `oidc_logins_total{result}`. */
export type LoginResult = 'success' | 'state_invalid' | 'code_invalid' | 'idp_error' | 'id_token_invalid' | 'idp_unavailable';

/** Bounded values of `oidc_refresh_total{result}`. */
export type RefreshResult = 'success' | 'rejected' | 'idp_unavailable' | 'id_token_invalid';
