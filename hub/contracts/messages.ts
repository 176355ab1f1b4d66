// The ledger entry types of the contract lifecycle. Their schemas live in protocol/messages, where
// every verifier (and the standalone one) finds them; this module names the ones the fold handles.
import {
  CONTRACT_ACTIVATION_TYP,
  CONTRACT_CANCELLATION_TYP,
  CONTRACT_CLOSE_TYP,
  contractActivationSchema,
  contractCancellationSchema,
  contractCloseSchema,
  OPERATOR_CREDIT_TYP,
  operatorCreditSchema,
  PARTICIPANT_APPLICATION_TYP,
  participantApplicationSchema,
  SETTLEMENT_TYP,
  settlementSchema,
} from '../../protocol/messages/index.js';

export {
  CONTRACT_ACTIVATION_TYP,
  CONTRACT_CANCELLATION_TYP,
  CONTRACT_CLOSE_TYP,
  type ContractActivation,
  type ContractCancellation,
  type ContractClose,
  contractActivationSchema,
  contractCancellationSchema,
  contractCloseSchema,
  OPERATOR_CREDIT_TYP,
  type OperatorCredit,
  operatorCreditSchema,
  PARTICIPANT_APPLICATION_TYP,
  PARTICIPANT_ROLES,
  type ParticipantApplication,
  type ParticipantRole,
  parseContractActivation,
  parseContractCancellation,
  parseContractClose,
  parseOperatorCredit,
  parseParticipantApplication,
  parseSettlement,
  participantApplicationSchema,
  participantRole,
  SETTLEMENT_TYP,
  type SettlementPayload,
  settlementSchema,
} from '../../protocol/messages/index.js';

/** Entry types of the contract lifecycle, with the kind of key that signs each. */
export const CONTRACT_ENTRY_TYPES = {
  [PARTICIPANT_APPLICATION_TYP]: { schema: participantApplicationSchema, signer: 'pt' },
  [OPERATOR_CREDIT_TYP]: { schema: operatorCreditSchema, signer: 'hub' },
  [CONTRACT_ACTIVATION_TYP]: { schema: contractActivationSchema, signer: 'hub' },
  [CONTRACT_CANCELLATION_TYP]: { schema: contractCancellationSchema, signer: 'pt' },
  [SETTLEMENT_TYP]: { schema: settlementSchema, signer: 'hub' },
  [CONTRACT_CLOSE_TYP]: { schema: contractCloseSchema, signer: 'hub' },
} as const;
