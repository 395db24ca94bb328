// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Reads the RANDAO value of an RLP-encoded Ethereum block header: its `mixHash` (field 13 of the list
///         since Frontier), which holds `prevrandao` since the Merge. The caller checks the header against
///         `blockhash` first; a header that hashes right is well formed.
library BlockHeader {
    uint256 private constant MIX_HASH_FIELD = 13;

    /// @notice The header's mixHash.
    function mixHash(bytes calldata header) internal pure returns (bytes32) {
        uint256 pos = _listPayload(header);
        for (uint256 i; i < MIX_HASH_FIELD; ++i) {
            pos = _next(header, pos);
        }
        require(uint8(header[pos]) == 0xa0, "header field 13 is not 32 bytes");
        return bytes32(header[pos + 1:pos + 33]);
    }

    /// @dev Offset of a long list's first item (a header is always over 55 bytes).
    function _listPayload(bytes calldata header) private pure returns (uint256) {
        uint256 prefix = uint8(header[0]);
        require(prefix > 0xf7, "header is not a long RLP list");
        return 1 + prefix - 0xf7;
    }

    /// @dev Offset of the item after the string item at `pos` (header fields are strings, never lists).
    function _next(bytes calldata header, uint256 pos) private pure returns (uint256) {
        uint256 prefix = uint8(header[pos]);
        if (prefix < 0x80) return pos + 1;
        if (prefix < 0xb8) return pos + 1 + prefix - 0x80;
        require(prefix < 0xc0, "header field is a list");
        uint256 lengthBytes = prefix - 0xb7;
        uint256 length = uint256(bytes32(header[pos + 1:pos + 1 + lengthBytes])) >> (8 * (32 - lengthBytes));
        return pos + 1 + lengthBytes + length;
    }
}
